"""Real OpenSSH servers on 127.0.0.1 for the `invoke lab` tests.

Each server is Debian's /usr/sbin/sshd run in the foreground with its own config
in a temporary folder (host key, authorized keys, pid file there; StrictModes and
PAM off), listening on a free loopback port. Keys are made by ssh-keygen.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"  # sshd must be started by its absolute path (it re-executes itself)
PRIVSEP_DIR = Path("/run/sshd")  # compiled into Debian's sshd; needed when run as root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keypair(folder: Path, name: str) -> Path:
    """A new passphrase-less ed25519 key; returns the private key's path."""
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True, capture_output=True, timeout=30)
    return key


def sshd_missing_reason() -> str | None:
    """Why sshd cannot be started here (None when it can)."""
    if not Path(SSHD).is_file():
        return f"{SSHD} not found: install Debian's openssh-server (apt-get install -y " \
               "openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen not found: install openssh-client"
    return None


def _ensure_privsep_dir() -> None:
    # Run as root, sshd insists on its privilege-separation directory, which the
    # Debian package expects systemd to create at boot; containers lack it.
    if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)


@dataclass
class SshServer:
    port: int
    folder: Path
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_sshd(folder: Path, authorized: list[Path]) -> SshServer:
    """Start an sshd on a free 127.0.0.1 port that accepts the given public keys."""
    folder.mkdir(parents=True, exist_ok=True)
    _ensure_privsep_dir()
    host_key = folder / "ssh_host_ed25519_key"
    if not host_key.exists():
        keypair(folder, host_key.name)
    auth = folder / "authorized_keys"
    auth.write_text("".join(Path(str(k) + ".pub").read_text() for k in authorized))
    auth.chmod(0o600)
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        f"AuthorizedKeysFile {auth}\n"
        f"PidFile {folder / 'sshd.pid'}\n"
        "StrictModes no\n"
        "UsePAM no\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\n"
        "MaxStartups 50\n"
        "LogLevel VERBOSE\n"
    )
    log = folder / "sshd.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}: "
                               f"{log.read_text(errors='replace').strip()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(4).startswith(b"SSH-"):
                    return SshServer(port=port, folder=folder, process=proc, log=log)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"sshd did not listen on 127.0.0.1:{port} within 15 s: "
                       f"{log.read_text(errors='replace').strip()}")
