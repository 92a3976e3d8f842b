"""A real single-node SLURM cluster with accounting, run from Debian's packages inside one temp dir.

munged, a MariaDB server, slurmdbd, slurmctld and slurmd are started in the foreground as child processes, with
every path (config, state, spool, pid, log, sockets, database) under ``root`` and free TCP ports on 127.0.0.1, and
``stop()`` ends exactly those processes. Clients (sbatch, squeue, sacct, scontrol, submitit) find the cluster
through ``SLURM_CONF``: pass ``cluster.env`` to subprocesses. Install the packages with ``.ci/install_slurm.sh``.
Used by tests/slurm and scripts/benchmark_launchers.py.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BINARIES = (
    "munged",
    "mariadbd",
    "mariadb-install-db",
    "mariadb-admin",
    "slurmdbd",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "sacct",
    "sacctmgr",
    "scontrol",
    "scancel",
    "sinfo",
)
CLUSTER = "mirage-test"


def missing_requirements() -> str | None:
    """Why the cluster cannot run here (None when it can): the daemons need root and Debian's packages."""
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        return f"SLURM test cluster needs {', '.join(missing)}: run `sudo bash .ci/install_slurm.sh` (Debian)"
    if os.geteuid() != 0:
        return (
            "SLURM test cluster daemons run as root (slurmd starts jobs as their user): run the tests as root"
        )
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user (the munge package creates it): run `sudo bash .ci/install_slurm.sh`"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, check, timeout: float, log: Path | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log is not None and log.is_file() else ""
    raise RuntimeError(f"SLURM test cluster: {what} not ready after {timeout:.0f} s\n{tail}")


class SlurmCluster:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.munge_dir: Path | None = None
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.root / "etc" / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    # ---- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> SlurmCluster:
        try:
            self._layout()
            self._start_munge()
            self._start_mariadb()
            self._start_slurmdbd()
            self._run("sacctmgr", "-i", "add", "cluster", CLUSTER)
            self._spawn(
                "slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)], self.root / "log/slurmctld.log"
            )
            _wait("slurmctld", lambda: self._ok("scontrol", "ping"), 30, self.root / "log/slurmctld.log")
            self._spawn(
                "slurmd",
                ["slurmd", "-D", "-f", str(self.conf), "-N", self.host],
                self.root / "log/slurmd.log",
            )
            _wait(
                "node idle",
                lambda: self._out("sinfo", "-h", "-o", "%T").strip() == "idle",
                60,
                self.root / "log/slurmd.log",
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Cancel what still runs, then end the daemons we started, newest first (SIGTERM, then SIGKILL)."""
        if any(name == "slurmctld" and p.poll() is None for name, p in self.procs):
            subprocess.run(
                ["scancel", "--full", "--user", "root"], env=self.env, capture_output=True, timeout=20
            )
            deadline = time.time() + 15
            while time.time() < deadline and self._out("squeue", "-h", "-o", "%i").strip():
                time.sleep(0.5)
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()
        if self.munge_dir is not None:
            shutil.rmtree(self.munge_dir, ignore_errors=True)
            self.munge_dir = None

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- client helpers ----------------------------------------------------------------------------------------
    def _run(self, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def _ok(self, *cmd: str) -> bool:
        return subprocess.run(cmd, env=self.env, capture_output=True, timeout=30).returncode == 0

    def _out(self, *cmd: str) -> str:
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=30)
        return proc.stdout if proc.returncode == 0 else ""

    def sacct(self, job_id: str) -> dict[str, str]:
        """``{JobID: State}`` of a job (array tasks as ``<id>_<index>``), steps left out, from the accounting DB."""
        out = self._out("sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", str(job_id))
        return dict(line.split("|", 1) for line in out.splitlines() if "|" in line)

    def jobs(self) -> list[str]:
        """Ids of the jobs SLURM still knows (pending, running, completing)."""
        return self._out("squeue", "-h", "-o", "%i").split()

    # ---- daemons -----------------------------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str], log: Path, **kwargs) -> subprocess.Popen:
        out = open(log.with_suffix(".out"), "ab")  # noqa: SIM115  (closed when the process ends)
        proc = subprocess.Popen(
            cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs
        )
        self.procs.append((name, proc))
        time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError(
                f"{name} exited at once ({proc.returncode}):\n{log.with_suffix('.out').read_text()}"
            )
        return proc

    def _layout(self) -> None:
        for sub in ("etc", "log", "state", "spool", "run", "db"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.ports = {k: _free_port() for k in ("ctld", "slurmd", "dbd", "mysql")}
        # munged runs as the munge user, who must reach its dir: not under pytest's 0700 tmp tree, so in /tmp
        self.munge_dir = Path(tempfile.mkdtemp(prefix="mirage-munge-"))
        self.munge_dir.chmod(0o755)  # munged refuses a key dir of 0700
        self.munge_socket = self.munge_dir / "munge.socket"
        node = (
            self._out("slurmd", "-C").splitlines()[0].split()
        )  # the hardware line slurmd itself will report
        node_kw = dict(kv.split("=", 1) for kv in node)
        real_mem = int(int(node_kw.pop("RealMemory")) * 0.9)
        node_kw.pop("NodeName")
        hw = " ".join(f"{k}={v}" for k, v in node_kw.items())
        log, run = self.root / "log", self.root / "run"
        self.conf.write_text(f"""\
ClusterName={CLUSTER}
SlurmctldHost={self.host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={self.ports["ctld"]}
SlurmdPort={self.ports["slurmd"]}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket},cred_expire=10
StateSaveLocation={self.root / "state"}
SlurmdSpoolDir={self.root / "spool"}
SlurmctldPidFile={run / "slurmctld.pid"}
SlurmdPidFile={run / "slurmd.pid"}
SlurmctldLogFile={log / "slurmctld.log"}
SlurmdLogFile={log / "slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
MailProg=/bin/true
MpiDefault=none
ReturnToService=2
KillWait=2
SchedulerParameters=sched_interval=1,bf_interval=1
InactiveLimit=0
MinJobAge=300
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={self.ports["dbd"]}
AccountingStoragePass={self.munge_socket}
JobCompType=jobcomp/none
NodeName={self.host} NodeAddr=127.0.0.1 {hw} RealMemory={real_mem} State=UNKNOWN
PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")
        dbd = self.root / "etc" / "slurmdbd.conf"
        dbd.write_text(f"""\
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
DbdHost={self.host}
DbdAddr=127.0.0.1
DbdPort={self.ports["dbd"]}
SlurmUser=root
LogFile={log / "slurmdbd.log"}
PidFile={run / "slurmdbd.pid"}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.ports["mysql"]}
StorageUser=root
StorageLoc=slurm_acct_db
""")
        dbd.chmod(0o600)  # slurmdbd refuses a readable config (it may hold the DB password)

    def _start_munge(self) -> None:
        munge = pwd.getpwnam("munge")
        key = self.munge_dir / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        os.chown(key, munge.pw_uid, munge.pw_gid)
        os.chown(self.munge_dir, munge.pw_uid, munge.pw_gid)
        log = self.munge_dir / "munged.log"
        self._spawn(
            "munged",
            [
                "munged",
                "-F",
                f"--socket={self.munge_socket}",
                f"--key-file={key}",
                f"--log-file={log}",
                f"--pid-file={self.munge_dir / 'munged.pid'}",
                f"--seed-file={self.munge_dir / 'munged.seed'}",
            ],
            self.root / "log/munged.log",
            user=munge.pw_uid,
            group=munge.pw_gid,
        )
        _wait("munged", self.munge_socket.exists, 15, log)

    def _start_mariadb(self) -> None:
        datadir, sock = self.root / "db" / "data", self.root / "db" / "mysqld.sock"
        self._run(
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={datadir}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            timeout=120,
        )
        self._spawn(
            "mariadbd",
            [
                "mariadbd",
                "--no-defaults",
                f"--datadir={datadir}",
                f"--socket={sock}",
                f"--port={self.ports['mysql']}",
                "--bind-address=127.0.0.1",
                "--user=root",
                f"--pid-file={self.root / 'run/mariadbd.pid'}",
                f"--log-error={self.root / 'log/mariadbd.log'}",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=8M",
            ],
            self.root / "log/mariadbd.log",
        )
        _wait(
            "mariadbd",
            lambda: self._ok("mariadb-admin", "--no-defaults", f"--socket={sock}", "-uroot", "ping"),
            60,
            self.root / "log/mariadbd.log",
        )
        # slurmdbd logs in over TCP as root without a password (a throwaway server bound to 127.0.0.1)
        self._run(
            "mariadb",
            "--no-defaults",
            f"--socket={sock}",
            "-uroot",
            "-e",
            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1';",
        )

    def _start_slurmdbd(self) -> None:
        log = self.root / "log/slurmdbd.log"
        self._spawn("slurmdbd", ["slurmdbd", "-D"], log)
        _wait("slurmdbd", lambda: self._ok("sacctmgr", "-n", "list", "cluster"), 60, log)
