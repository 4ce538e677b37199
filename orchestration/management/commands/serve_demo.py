"""The demo's dashboard with its stand-ins: the Shopify shop on 127.0.0.1 (the demo's Shopify
channel pushes there) and WhatsApp's Cloud API (customer messages, printed here), then
Django's development server; all stop together."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from orchestration.demo.day import demo_secrets
from orchestration.demo.standin import demo_whatsapp, shopify_standin, standin_url, whatsapp_standin


class Command(BaseCommand):
    help = (
        "Serve the demo: its stand-in Shopify shop and WhatsApp, and the dashboard "
        "(runserver, no reloader)."
    )

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport, **options):
        demo_secrets()
        with shopify_standin(), whatsapp_standin(say=self._say) as whatsapp_url:
            self._say(f"stand-in Shopify shop: {standin_url()} (the demo's shopify channel)")
            self._say(f"stand-in WhatsApp: {whatsapp_url} (messages to customers are printed here)")
            with demo_whatsapp(whatsapp_url):
                call_command("runserver", addrport, use_reloader=False)

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
