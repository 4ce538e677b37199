"""Stand-in stores: IMS's own local fakes of the vendors' APIs, answering as each vendor's
documentation says. The tests run every connector against them over real HTTP on 127.0.0.1,
and the demo serves them as the demo channels' shops (`manage.py demo_standins`), so a push
from the demo really lands somewhere. Nothing here imports IMS's apps (import-linter)."""
