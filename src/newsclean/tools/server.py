"""Local services on loopback: the MLflow UI over the project's store, and a team tracking server.

- ``newsclean ui`` (``make ui``): writes our saved runs-page view into each
  experiment, starts ``mlflow ui`` on 127.0.0.1 with an explicit backend store and artifact
  root, waits until it answers and prints its URL, the experiments and links into them.
- ``newsclean server`` (``make server``): a PostgreSQL cluster of our own (Debian's
  ``postgresql`` package: ``initdb``/``pg_ctl``, a free loopback port, a unix socket folder we
  own) and an MLflow tracking server on it (``--backend-store-uri postgresql://…``, artifacts
  proxied by the server into a local folder). ``make train TRACKING_URI=http://127.0.0.1:5001``
  logs to it. Ctrl-C stops both.

Everything here is also a library for the tests: ``PostgresCluster``, ``MlflowServer``,
``team_server``, ``free_port``, ``apt_install``. Servers run in their own process group and
are stopped by killing it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from newsclean.config import Config

LOOPBACK = "127.0.0.1"
PG_USER = "newsclean"
PG_DATABASE = "mlflow"
# A unix socket path (folder + "/.s.PGSQL.<port>") must fit in sockaddr_un (107 bytes).
_MAX_SOCKET_DIR = 80


# ------------------------------------------------------------------------------------ helpers


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def apt_install(packages: list[str], timeout: float = 900) -> str | None:
    """Install Debian packages with apt-get; None when done, else why it could not be done."""
    if os.geteuid() != 0:
        return f"not root: cannot apt-get install {' '.join(packages)}"
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    deadline = time.monotonic() + timeout
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *packages],
    ):
        try:
            done = subprocess.run(
                command,
                env=env,
                capture_output=True,
                text=True,
                timeout=max(10.0, deadline - time.monotonic()),
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"{' '.join(command)}: {error}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"{' '.join(command)} failed ({done.returncode}): {' / '.join(tail)}"
    return None


def wait_for_http(
    url: str, timeout: float, process: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    """Poll ``url`` until it answers 200; fail early if ``process`` dies."""
    deadline = time.monotonic() + timeout
    last_error: object = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"server exited with code {process.returncode} before answering {url}"
                + _log_tail(log)
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = error
        time.sleep(0.5)
    raise TimeoutError(
        f"{url} did not answer within {timeout:.0f} s ({last_error})" + _log_tail(log)
    )


def _log_tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not log.exists():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- last lines of {log} ---\n" + "\n".join(tail)


def stop_process_group(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM the process group ``process`` leads, then SIGKILL what is left."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


# --------------------------------------------------------------------------------- PostgreSQL


def postgres_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl."""
    candidates = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        try:
            candidates.append((int(initdb.parent.parent.name.split(".")[0]), initdb.parent))
        except ValueError:
            continue
    if candidates:
        return max(candidates)[1]
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def ensure_postgres(install: bool = True) -> Path:
    """PostgreSQL's server binaries, installing Debian's ``postgresql`` when missing (as root)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None and install:
        reason = apt_install(["postgresql"])
        if reason:
            raise RuntimeError(f"PostgreSQL is not installed and could not be: {reason}")
        bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    return bin_dir


def _service_user() -> str | None:
    """PostgreSQL refuses to run as root: then it runs as Debian's ``postgres`` user."""
    return "postgres" if os.geteuid() == 0 else None


def _reachable_by(user: str | None, folder: Path) -> bool:
    if user is None:
        return True
    probe = folder
    while not probe.exists():
        probe = probe.parent
    done = subprocess.run(
        ["test", "-x", str(probe)], user=user, group=user, extra_groups=[], check=False
    )
    return done.returncode == 0


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster in ``folder`` (created on first start, reused after), on loopback.

    Layout: ``folder/pgdata`` (the cluster), ``folder/socket`` (unix socket, ours only),
    ``folder/postgres.log``, ``folder/password`` (0600; host logins need it). As root the
    cluster belongs to the ``postgres`` user; when that user cannot reach ``folder`` (a project
    under /root, say) the cluster lives in /var/tmp/newsclean-pg-<hash of folder> instead.
    """

    folder: Path
    port: int = 0
    user: str = PG_USER
    database: str = PG_DATABASE
    bin_dir: Path | None = None
    password: str = field(default="", repr=False)
    _socket_tmp: Path | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder).resolve()
        self.owner = _service_user()
        if self.owner:  # the package creates the postgres user: install it before asking
            self.bin_dir = self.bin_dir or ensure_postgres()
        self.home = self.folder
        if not _reachable_by(self.owner, self.folder):
            digest = hashlib.sha1(str(self.folder).encode()).hexdigest()[:10]
            self.home = Path("/var/tmp") / f"newsclean-pg-{digest}"

    @property
    def data_dir(self) -> Path:
        return self.home / "pgdata"

    @property
    def log_path(self) -> Path:
        return self.home / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        if self._socket_tmp is not None:
            return self._socket_tmp
        return self.home / "socket"

    @property
    def uri(self) -> str:
        """SQLAlchemy URI MLflow takes (``postgresql://user:password@127.0.0.1:port/db``)."""
        # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; we ship psycopg2-binary.
        return (
            f"postgresql+psycopg2://{self.user}:{self.password}@{LOOPBACK}:{self.port}/"
            f"{self.database}"
        )

    @property
    def display_uri(self) -> str:
        return self.uri.replace(f":{self.password}@", ":***@") if self.password else self.uri

    def _run(self, args: list[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        user = {"user": self.owner, "group": self.owner, "extra_groups": []} if self.owner else {}
        done = subprocess.run(
            args,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **user,
            **kwargs,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()}"
                + _log_tail(self.log_path)
            )
        return done

    def _own(self, *paths: Path) -> None:
        if self.owner:
            for path in paths:
                shutil.chown(path, self.owner, self.owner)

    def start(self, timeout: float = 60) -> PostgresCluster:
        self.bin_dir = self.bin_dir or ensure_postgres()
        self.home.mkdir(parents=True, exist_ok=True)
        if len(str(self.home / "socket")) > _MAX_SOCKET_DIR:
            self._socket_tmp = Path(tempfile.mkdtemp(prefix="ncpg-"))
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self.log_path.touch()
        self._own(self.socket_dir, self.log_path)
        password_file = self.home / "password"
        if not (self.data_dir / "PG_VERSION").exists():
            self.password = secrets.token_urlsafe(18)
            self.data_dir.mkdir(mode=0o700, exist_ok=True)
            self._own(self.data_dir)
            pwfile = self.socket_dir / "initdb-password"
            pwfile.write_text(self.password + "\n")
            self._own(pwfile)
            try:
                self._run(
                    [
                        str(self.bin_dir / "initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        self.user,
                        f"--pwfile={pwfile}",
                        "--auth-local=trust",  # the socket folder is the cluster owner's only
                        "--auth-host=scram-sha-256",
                        "-E",
                        "UTF8",
                        "--locale=C",
                    ],
                    timeout=120,
                )
            finally:
                pwfile.unlink(missing_ok=True)
            password_file.write_text(self.password + "\n")
            password_file.chmod(0o600)
        else:
            self.password = password_file.read_text().strip()
        self.port = self.port or free_port()
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses={LOOPBACK}"
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_path),
                "-w",
                "-t",
                str(int(timeout)),
                "-o",
                options,
            ],
            timeout=timeout + 10,
        )
        self._ensure_database()
        return self

    def _psql(self, sql: str) -> str:
        done = self._run(
            [
                str(self.bin_dir / "psql"),
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                "postgres",
                "-tAc",
                sql,
            ]
        )
        return done.stdout.strip()

    def _ensure_database(self) -> None:
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'")
        if exists != "1":
            self._psql(f'CREATE DATABASE "{self.database}"')

    def running(self) -> bool:
        if self.bin_dir is None or not self.data_dir.exists():
            return False
        try:
            self._run([str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir)])
        except RuntimeError:
            return False
        return True

    def stop(self, timeout: float = 30) -> None:
        if self.bin_dir is not None and (self.data_dir / "postmaster.pid").exists():
            try:
                self._run(
                    [
                        str(self.bin_dir / "pg_ctl"),
                        "stop",
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        str(int(timeout)),
                    ],
                    timeout=timeout + 10,
                )
            except (RuntimeError, subprocess.TimeoutExpired):
                self._kill_postmaster()
        if self._socket_tmp is not None:
            shutil.rmtree(self._socket_tmp, ignore_errors=True)
            self._socket_tmp = None

    def _kill_postmaster(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown of the postmaster and its children


# ------------------------------------------------------------------------------------ MLflow


@dataclass
class MlflowServer:
    """``mlflow server`` (or ``mlflow ui``) on loopback, in its own process group."""

    backend_store_uri: str
    log_path: Path
    port: int = 0
    command: str = "server"
    default_artifact_root: str | None = None
    artifacts_destination: str | None = None
    workers: int = 1
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def args(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "mlflow",
            self.command,
            "--backend-store-uri",
            self.backend_store_uri,
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        if self.default_artifact_root:
            args += ["--default-artifact-root", self.default_artifact_root]
        if self.artifacts_destination:
            args += ["--artifacts-destination", self.artifacts_destination]
        return args

    def start(self, timeout: float = 120) -> MlflowServer:
        self.port = self.port or free_port()
        if port_in_use(self.port):
            raise RuntimeError(f"port {self.port} on {LOOPBACK} is already in use")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() kills all its workers
                env=env,
                cwd=self.log_path.parent,
            )
        try:
            wait_for_http(f"{self.url}/health", timeout, self.process, self.log_path)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)


def create_experiments(tracking_uri: str, names: list[str]) -> dict[str, str]:
    """Create missing experiments with the server's default artifact root; return name -> id.

    On a tracking server that default is ``mlflow-artifacts:/``: artifacts travel through the
    server into its artifact store, so a client on another machine can log and read them.
    """
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    ids = {}
    for name in names:
        experiment = client.get_experiment_by_name(name)
        ids[name] = experiment.experiment_id if experiment else client.create_experiment(name)
    return ids


@dataclass
class TeamServer:
    cluster: PostgresCluster
    server: MlflowServer

    @property
    def url(self) -> str:
        return self.server.url


@contextlib.contextmanager
def team_server(
    folder: Path,
    port: int = 0,
    artifacts: Path | None = None,
    experiments: list[str] | None = None,
    timeout: float = 180,
) -> Iterator[TeamServer]:
    """PostgreSQL in ``folder`` plus an MLflow tracking server on it; both stopped on exit."""
    folder = Path(folder).resolve()
    artifacts = Path(artifacts or folder / "artifacts").resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    cluster = PostgresCluster(folder)
    server = None
    try:
        cluster.start(timeout=min(timeout, 90))
        server = MlflowServer(
            backend_store_uri=cluster.uri,
            log_path=folder / "mlflow-server.log",
            port=port,
            artifacts_destination=str(artifacts),
        ).start(timeout=timeout)
        if experiments:
            create_experiments(server.url, experiments)
        yield TeamServer(cluster, server)
    finally:
        if server is not None:
            server.stop()
        cluster.stop()


# ------------------------------------------------------------------------------ command line


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _wait_forever(stop_on: list[MlflowServer]) -> None:
    """Block until Ctrl-C / SIGTERM or until a server exits by itself."""
    with contextlib.suppress(KeyboardInterrupt):
        while all(s.process is not None and s.process.poll() is None for s in stop_on):
            time.sleep(1)


def _print_experiments(comparisons: list, base_url: str) -> None:
    from newsclean.tools import compare

    print("experiments:")
    for comparison in comparisons:
        if comparison.experiment_id is None:
            print(f"  {comparison.name:<18} (none yet: run `make train`)")
            continue
        links = compare.ui_links(base_url, comparison)
        latest = comparison.trainings[0].name if comparison.trainings else "no training yet"
        champion = (
            f"champion v{comparison.champion.version} '{comparison.champion.run_name}'"
            if comparison.champion
            else "no champion yet"
        )
        print(f"  {comparison.name:<18} latest {latest}; {champion}")
        print(f"    runs table (key metrics, best first): {links['runs']}")
        print(f"    charts (metric per run):              {links['charts']}")
        if "compare_latest" in links:
            print(f"    compare view of the latest training:  {links['compare_latest']}")


def cmd_ui(config: Config, port: int) -> int:
    from newsclean.tools import compare

    uri = config.tracking.tracking_uri
    if uri.startswith(("http://", "https://")):
        print(f"the tracking store is a server ({uri}); its UI is there:")
        _print_experiments(compare.install_views(config), uri)
        return 0
    if port_in_use(port):
        print(
            f"newsclean ui: port {port} is in use (another `make ui`?); "
            f"try `make ui UI_PORT={port + 1}`",
            file=sys.stderr,
        )
        return 1
    root = config.tracking.artifact_root
    root.mkdir(parents=True, exist_ok=True)
    server = MlflowServer(
        backend_store_uri=uri,
        log_path=config.paths.reports_dir / "mlflow-ui.log",
        port=port,
        command="ui",
        default_artifact_root=str(root),
    )
    print(f"starting the MLflow UI on {server.url} (backend {uri}, artifacts {root}) ...")
    comparisons = compare.install_views(config)  # our saved runs-page view, in the store
    server.start()
    print(f"\nMLflow UI: {server.url}")
    _print_experiments(comparisons, server.url)
    print("\nIn the runs table: tick two or more runs, then Compare. Ctrl-C stops the UI.")
    try:
        _wait_forever([server])
    finally:
        server.stop()
    print("MLflow UI stopped.")
    return 0


def cmd_team(config: Config, folder: Path, port: int) -> int:
    if port_in_use(port):
        print(
            f"newsclean server: port {port} is in use; try SERVER_PORT={port + 1}", file=sys.stderr
        )
        return 1
    experiments = config.tracking.training_experiments()
    print(f"starting PostgreSQL (cluster in {folder}) and an MLflow tracking server ...")
    with team_server(folder, port=port, experiments=experiments) as team:
        print(f"\nMLflow tracking server: {team.url}  (UI and REST API)")
        print(f"  backend store: {team.cluster.display_uri}")
        print(f"  PostgreSQL:    cluster {team.cluster.data_dir}, log {team.cluster.log_path}")
        print(f"  artifacts:     {team.server.artifacts_destination} (proxied by the server)")
        print(f"  experiments:   {', '.join(experiments)}")
        print("\nlog a training run to it:  make train TRACKING_URI=" + team.url)
        print("compare its runs:          make compare TRACKING_URI=" + team.url)
        print("Ctrl-C stops the server and PostgreSQL.")
        _wait_forever([team.server])
    print("stopped.")
    return 0


def main(config: Config, command: str, port: int, folder: Path | None = None) -> int:
    """``newsclean ui`` / ``newsclean server``: run the MLflow UI (``command == "ui"``) or the
    team server until Ctrl-C or SIGTERM, stopping whatever was started."""
    # SIGTERM (a killed `make`, a CI timeout) unwinds like Ctrl-C, so the finally blocks stop
    # the servers we started, whatever stage we are at.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even if inherited ignored
    try:
        if command == "ui":
            return cmd_ui(config, port)
        return cmd_team(config, folder or config.tracking.artifact_root / "team-server", port)
    except (RuntimeError, TimeoutError) as error:
        print(f"newsclean {command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; servers stopped.", file=sys.stderr)
        return 130
