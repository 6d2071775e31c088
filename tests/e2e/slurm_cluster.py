"""A throwaway single-node Slurm cluster on localhost for the end-to-end tests.

LocalSlurm starts munged, slurmctld and slurmd (Debian's munge and slurm-wlm packages) as root in
the foreground, with their key, socket, state, spool and logs in a temporary directory and on two
free ports, so they touch nothing of a system installation. Clients reach the cluster through
`env` (SLURM_CONF). On leaving, every job is cancelled and the daemons are stopped; when the test
failed, the cluster's jobs and the daemon logs are printed. There is no slurmdbd, so `sacct` has
nothing to show: jobs are followed with `scontrol show job`, which keeps an ended job for
MinJobAge (300 s).
"""
import glob
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time

import e2e_common as e2e

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "sinfo")
# Job states after which a job never runs again (REQUEUED, COMPLETING and the like are not among them).
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
         "BOOT_FAIL", "DEADLINE"}

CONF = """\
ClusterName=vsae_e2e
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={port}
SlurmdPort={slurmd_port}
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also holds a requeued job back (BeginTime) for that long plus a second; default 120 s.
AuthInfo=socket={dir}/munge.socket,cred_expire=10
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# Look at pending jobs every 2 s (default 60 s), so that a requeued one starts soon after its BeginTime.
SchedulerParameters=sched_interval=2,bf_interval=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={dir}/jobcomp.log
MailProg=/bin/true
{node_line} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def tool(name):
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def unavailable():
    """Why no cluster can start here (a clearly detected reason), or None."""
    missing = [name for name in DAEMONS + CLIENTS if tool(name) is None]
    if missing:
        return "missing " + ", ".join(missing) + " (Debian packages slurm-wlm and munge)"
    if os.geteuid() != 0:
        return "slurmd must run as root to start jobs"
    return None


def free_ports():
    """A port P in 20000-30000 with P and P + 1 free (slurmctld and slurmd)."""
    rng = random.SystemRandom()
    for _ in range(100):
        port = rng.randrange(20000, 30000)
        try:
            for p in (port, port + 1):
                with socket.socket() as s:
                    s.bind(("", p))
            return port
        except OSError:
            continue
    e2e.check(False, "no two free ports in 20000-30000 for slurmctld and slurmd")


def wait_for(condition, timeout, interval=0.2):
    """Polls `condition()` until it holds (True) or `timeout` seconds have passed (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


class LocalSlurm:
    def __init__(self):
        self.dir = e2e.tempdir()
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        self.daemons = []  # (name, Popen), in start order
        self.logs = [os.path.join(self.dir, "*.log")]  # printed on failure; a test may add its own

    def __enter__(self):
        reason = unavailable()
        if reason:
            print("SKIPPED: no local Slurm cluster: " + reason)
            sys.exit(e2e.SKIP)
        try:
            self._start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _start(self):
        node_line = subprocess.run([tool("slurmd"), "-C"], capture_output=True, text=True).stdout.split("\n")[0]
        node = re.match(r"NodeName=(\S+) ", node_line)
        e2e.check(node is not None, "slurmd -C printed no NodeName line: " + node_line)
        port = free_ports()
        for sub in ("state", "spool"):
            os.mkdir(os.path.join(self.dir, sub))
        with open(self.conf, "w") as f:
            f.write(CONF.format(node=node.group(1), node_line=node_line, port=port, slurmd_port=port + 1, dir=self.dir))
        key = os.path.join(self.dir, "munge.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(os.urandom(128))

        munge_socket = os.path.join(self.dir, "munge.socket")
        self._daemon("munged", "--foreground", "--force", "--key-file=" + key, "--socket=" + munge_socket,
                     "--pid-file=" + os.path.join(self.dir, "munged.pid"),
                     "--seed-file=" + os.path.join(self.dir, "munged.seed"))
        self._wait("munged to open its socket", lambda: os.path.exists(munge_socket))
        self._daemon("slurmctld", "-D", "-f", self.conf)
        self._daemon("slurmd", "-D", "-f", self.conf)
        self._wait("the node to be idle", lambda: self.client("sinfo", "-h", "-o", "%T").stdout.strip() == "idle")

    def _daemon(self, name, *args):
        log = open(os.path.join(self.dir, name + ".log"), "w")  # in the foreground they all log to stderr
        self.daemons.append((name, subprocess.Popen([tool(name), *args], stdout=log, stderr=subprocess.STDOUT,
                                                    stdin=subprocess.DEVNULL, env=self.env)))

    def _wait(self, what, condition, timeout=30):
        def ready():
            ended = [name for name, p in self.daemons if p.poll() is not None]
            e2e.check(not ended, f"{', '.join(ended)} ended while waiting for {what}")
            return condition()
        e2e.check(wait_for(ready, timeout), f"no {what} after {timeout} s")

    def client(self, *args):
        """Runs a Slurm client (sbatch, scontrol, ...) against this cluster."""
        return subprocess.run([tool(args[0]), *args[1:]], capture_output=True, text=True, env=self.env)

    def jobs(self, job_id):
        """`scontrol show job` of a job (an array: one entry per task record) as dicts; [] once it is gone."""
        r = self.client("scontrol", "show", "job", "-o", job_id)
        if r.returncode != 0:
            return []
        return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in r.stdout.splitlines()]

    def batch_shell(self, job_id):
        """The PID of a running job's batch shell, which --signal=B:... signals, from `scontrol listpids`.
        (`scancel --batch --signal` on one task of an array with pending tasks delivers the signal, yet
        Slurm 22.05 answers "Job can not be altered now" and scancel sends it again and again.)"""
        r = self.client("scontrol", "listpids", self.jobs(job_id)[0]["JobId"])
        shells = [int(pid) for pid, _, step, local, *_ in (line.split() for line in r.stdout.splitlines()[1:])
                  if step == "batch" and local == "0"]
        e2e.check(len(shells) == 1, f"no batch shell of job {job_id} in scontrol listpids: {r.stdout}{r.stderr}")
        return shells[0]

    def state(self, job_id):
        records = self.jobs(job_id)
        return records[0].get("JobState") if records else None

    def wait_ended(self, job_id, timeout):
        """Waits until the job is in an end state and returns that state (None on timeout)."""
        wait_for(lambda: self.state(job_id) in ENDED, timeout, interval=0.5)
        state = self.state(job_id)
        return state if state in ENDED else None

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None and not (issubclass(exc_type, SystemExit) and exc.code in (0, None, e2e.SKIP))
        running = len(self.daemons) == len(DAEMONS) and all(p.poll() is None for _, p in self.daemons)
        if failed and running:
            print("---- the cluster's jobs")
            print(self.client("scontrol", "show", "job").stdout)
        if running:
            self.client("scancel", "--partition=debug")
            wait_for(lambda: not self.client("squeue", "-h").stdout.strip(), 30)
        for name, p in reversed(self.daemons):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if failed:
            for path in sorted(set(sum((glob.glob(pattern) for pattern in self.logs), []))):
                print(f"---- {path}")
                print(open(path, errors="replace").read())
        return False
