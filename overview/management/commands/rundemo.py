"""`make run`'s web process: runserver that prints the demo login once it is listening.

honcho interleaves the worker's and beat's start-up banners with the web server's, which
scrolled the login `make run` printed out of sight; this prints it again where the eye lands,
just under "Starting development server at ...".
"""

from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as RunserverCommand,
)


class Command(RunserverCommand):
    help = "Run the development server and print the demo login once it listens."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--login", default="demo / crier-demo", help="What to print.")

    def on_bind(self, server_port):
        super().on_bind(server_port)
        url = f"http://{self.addr}:{server_port}/"
        self.stdout.write(
            self.style.SUCCESS(f"\n  Crier is ready: open {url} and log in as {self.login}\n")
        )

    def handle(self, *args, login, **options):
        self.login = login
        super().handle(*args, **options)
