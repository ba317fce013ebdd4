"""``python manage.py runsandbox [addr:port]``: the embedded TaskRouter sandbox over HTTP.

A thin wrapper: the sandbox itself (tasks_app.sandbox) knows nothing about Django. It accepts
the credentials Taskdeck is configured with (TWILIO_* settings), or the documented development
credentials when none are set, so the dashboard can point TASKROUTER_BASE_URL at it unchanged.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tasks_app.sandbox import (
    DEVELOPMENT_CREDENTIALS,
    Credentials,
    FaultPlan,
    Housekeeper,
    SandboxApp,
    SandboxServer,
    SandboxStore,
    Simulator,
    ensure_seeded,
)
from tasks_app.sandbox.ratelimit import RateLimiter
from tasks_app.taskrouter import limits
from tasks_app.taskrouter.errors import InvalidParameter

DEFAULT_ADDRPORT = "127.0.0.1:8765"


class Command(BaseCommand):
    help = "Serve the embedded TaskRouter sandbox (Twilio TaskRouter v1 stand-in) over HTTP."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "addrport", nargs="?", default=DEFAULT_ADDRPORT, help="host:port (port 0: any free)"
        )
        parser.add_argument("--db", help="SQLite file (default: SANDBOX_DB_PATH or var/)")
        parser.add_argument("--reset", action="store_true", help="delete everything, then seed")
        parser.add_argument("--tasks", type=int, default=600, help="tasks to seed (default 600)")
        parser.add_argument("--seed", type=int, default=7, help="random seed of the seed data")
        parser.add_argument(
            "--simulate",
            action="store_true",
            help="run a contact centre's shift: tasks arrive, agents answer, handle, wrap up, "
            "take breaks",
        )
        parser.add_argument(
            "--purge-after",
            type=float,
            default=None,
            metavar="SECONDS",
            help="delete closed tasks this long after they close (default: TaskRouter's 5 to 8 "
            "minutes)",
        )
        parser.add_argument(
            "--rate", type=float, default=0.5, help="simulated new tasks per second (0.5)"
        )
        parser.add_argument(
            "--staffing",
            type=float,
            default=0.8,
            help="share of each workspace's agents on shift, 0 to 1 (0.8)",
        )
        parser.add_argument(
            "--static",
            action="store_true",
            help="stop TaskRouter's clock: nothing times out, expires or is purged by itself "
            "(for measurements)",
        )
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="SPEC",
            help="inject a fault into every matching request, e.g. '503;times=2' (repeatable)",
        )
        parser.add_argument(
            "--list-attributes-null",
            action="store_true",
            help="answer attributes: null in task lists, as the spec's text describes",
        )
        parser.add_argument(
            "--rate-limits",
            nargs="?",
            const="",
            default=None,
            metavar="KEY=RPS,...",
            help="enforce TaskRouter's rate limits per account (429 over them); optionally "
            "override some, e.g. 'Task-Fetch=20'",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = _addrport(options["addrport"])
        if options["tasks"] < 0:
            raise CommandError("--tasks must be 0 or more.")
        if options["rate"] <= 0:
            raise CommandError("--rate must be more than 0.")
        if not 0 <= options["staffing"] <= 1:
            raise CommandError("--staffing must be between 0 and 1.")
        if options["purge_after"] is not None and options["purge_after"] < 0:
            raise CommandError("--purge-after must be 0 seconds or more.")
        try:
            faults = FaultPlan.parse(*options["fault"])
        except InvalidParameter as exc:
            raise CommandError(str(exc)) from None

        rate_limits = None
        if options["rate_limits"] is not None:
            try:
                rate_limits = RateLimiter(limits.parse_overrides(options["rate_limits"]))
            except ValueError as exc:
                raise CommandError(f"--rate-limits: {exc}") from None
        store = SandboxStore(_db_path(options["db"]))
        if options["reset"]:
            store.reset()
        ensure_seeded(store, tasks=options["tasks"], seed=options["seed"])
        credentials = _credentials()
        housekeeper = Housekeeper(store, purge_after=options["purge_after"])
        app = SandboxApp(
            store,
            credentials=credentials,
            faults=faults,
            list_attributes=not options["list_attributes_null"],
            rate_limits=rate_limits,
            housekeeper=housekeeper,
            static=options["static"],
        )
        server = SandboxServer(app, host=host, port=port).start()
        stop = threading.Event()
        # TaskRouter's clock runs whether or not anyone asks anything: reservations and
        # workflow targets time out, tasks past their TTL expire, closed tasks are purged.
        threads = []
        if not options["static"]:
            threads.append(threading.Thread(target=housekeeper.run_forever, args=(stop,),
                                            name="sandbox-housekeeping", daemon=True))  # fmt: skip
        if options["simulate"]:
            simulator = Simulator(
                store,
                rate=options["rate"],
                staffing=options["staffing"],
                housekeeper=housekeeper,
                account_sid=credentials.account_sid,
            )
            threads.append(
                threading.Thread(
                    target=simulator.run, args=(stop,), name="sandbox-simulator", daemon=True
                )
            )
        for thread in threads:
            thread.start()

        write = self.stdout.write
        write(f"TaskRouter sandbox on {server.url} (database {store.path})")
        write(f"  Point Taskdeck at it with TASKROUTER_BASE_URL={server.url}")
        write(f"  Account SID {credentials.account_sid} with its auth token")
        if credentials.api_key:
            write(f"  API key {credentials.api_key} with its secret")
        if options["simulate"]:
            write(
                f"  simulating a shift: about {options['rate']:g} new tasks a second, "
                f"{options['staffing']:.0%} of the agents on shift"
            )
        if options["static"]:
            write("  static: TaskRouter's clock is stopped, nothing times out by itself")
        if options["purge_after"] is not None:
            write(f"  purging closed tasks {options['purge_after']:g} s after they close")
        for fault in faults.faults:
            write(f"  fault: {fault}")
        if rate_limits is not None:
            write("  enforcing TaskRouter's rate limits (429 over them)")
        write("Quit with CONTROL-C.")
        self.stdout.flush()
        # SIGTERM (kill, a process manager, a test suite) stops it as Ctrl-C does. A job a
        # shell starts in the background ignores SIGINT, so SIGTERM is the signal that
        # works however the sandbox was started.
        previous = _on_sigterm(_interrupt)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            _on_sigterm(previous)
            stop.set()
            server.stop()
            for thread in threads:
                thread.join(timeout=5)
            store.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _on_sigterm(handler: Any) -> Any:
    """Install a SIGTERM handler, returning the previous one (only the main thread may;
    elsewhere, as under call_command in a thread, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        return handler
    # None: a handler installed outside Python; the default is the nearest to it.
    return signal.signal(signal.SIGTERM, signal.SIG_DFL if handler is None else handler)


def _addrport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65_535:
        raise CommandError(f"{text!r} is not an address and port, like {DEFAULT_ADDRPORT}.")
    return host, int(port)


def _db_path(option: str | None) -> Path:
    if option:
        return Path(option)
    configured = getattr(settings, "SANDBOX_DB_PATH", None)
    if configured:
        return Path(configured)
    return Path(settings.BASE_DIR) / "var" / "sandbox.sqlite3"


def _credentials() -> Credentials:
    """Taskdeck's configured credentials when set, the development ones otherwise."""
    account_sid = getattr(settings, "TWILIO_ACCOUNT_SID", None)
    auth_token = getattr(settings, "TWILIO_AUTH_TOKEN", None)
    api_key = getattr(settings, "TWILIO_API_KEY", None)
    api_secret = getattr(settings, "TWILIO_API_SECRET", None)
    if not (account_sid or api_key):
        return DEVELOPMENT_CREDENTIALS
    return Credentials(
        account_sid=account_sid or DEVELOPMENT_CREDENTIALS.account_sid,
        auth_token=auth_token or DEVELOPMENT_CREDENTIALS.auth_token,
        api_key=api_key or None,
        api_secret=api_secret or None,
    )
