"""The WSGI application; `python -m ims.serve` serves it in production (granian).

Once Django is set up and the URLconf imported (with every view it names and what they
import), the objects made so far are moved out of the garbage collector's sight
(gc.freeze): they live as long as the worker. Without this, each full collection walked them
all (~110,000 objects, 100–130 ms on the 2-core benchmark machine), a pause for every
request in flight on that worker and for those waiting on the row locks its requests hold:
most of the orders benchmark's 99th percentile (README, "Orders benchmark").
"""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ims.settings")
application = get_wsgi_application()
import_module(settings.ROOT_URLCONF)
gc.collect()
gc.freeze()
