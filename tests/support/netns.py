"""Test hosts on one machine: each a network namespace with its own address, all joined by a Linux bridge.

``Hosts(["db", "web", ...]).up()`` makes, per host, a namespace ``mimic-<id>-<name>`` with ``lo`` up and one end of
a veth pair (``eth0``, the host's own address on a private /24 of 10.0.0.0/8), the other end plugged into the
bridge ``mh<id>``; the bridge itself has the subnet's first address, so the test process (the root namespace) is
one more machine on that network. A process on a host reaches the others only by their addresses: its
``127.0.0.1`` is its own host's loopback, where nothing of the others listens.

``Hosts.run(name)`` is the command prefix that runs something on a host (``ip netns exec``: root only);
``kill(name)`` SIGKILLs every process of a host and unplugs its cable, as a machine that dies does.
Every run has a random id in its names and a /24 no route of this machine uses yet, so parallel and leftover
runs never clash; ``close()`` removes the namespaces, the veths and the bridge (call it in a ``finally``).
"""

from __future__ import annotations

import ipaddress
import os
import random
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence


def require_netns() -> None:
    """Skip without root or iproute2 (a test host is a network namespace); fail instead under CI=true."""
    import pytest

    problem = None
    if os.geteuid() != 0:
        problem = "test hosts (network namespaces) need root"
    elif shutil.which("ip") is None:
        problem = "test hosts (network namespaces) need iproute2's ip"
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(problem)
    pytest.skip(problem)


def _ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 of 10.0.0.0/8 that no route of this machine (another run's bridge included) overlaps."""
    used = []
    for line in _ip("-4", "route", "show", "table", "all").splitlines():
        try:
            used.append(ipaddress.ip_network(line.split()[0], strict=False))
        except (ValueError, IndexError):
            continue  # "default", "broadcast ...", "local ..."
    for _ in range(100):
        subnet = ipaddress.ip_network(f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24")
        if not any(subnet.overlaps(net) for net in used if net.prefixlen > 0):
            return subnet
    raise RuntimeError("no free /24 in 10.100.0.0-10.250.255.255 for the test hosts")


class Hosts:
    """Test hosts named ``names``, each a network namespace on one bridge (``up()``, then ``close()``)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.id = secrets.token_hex(3)
        self.subnet = _free_subnet()
        addresses = list(self.subnet.hosts())
        self.gateway = str(addresses[0])  # the test process's own address, on the bridge
        self.bridge = f"mh{self.id}"
        self.names = list(names)
        self._address = {name: str(addresses[10 + i]) for i, name in enumerate(self.names)}
        self._cable = {name: f"mh{self.id}v{i}" for i, name in enumerate(self.names)}
        self._unplugged: set[str] = set()

    def namespace(self, name: str) -> str:
        return f"mimic-{self.id}-{name}"

    def address(self, name: str) -> str:
        return self._address[name]

    def run(self, name: str) -> list[str]:
        """The prefix that runs a command on host ``name``."""
        return ["ip", "netns", "exec", self.namespace(name)]

    def up(self) -> Hosts:
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for name in self.names:
            ns, cable = self.namespace(name), self._cable[name]
            _ip("netns", "add", ns)
            _ip("link", "add", cable, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", cable, "master", self.bridge)
            _ip("link", "set", cable, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "addr", "add", f"{self.address(name)}/{self.subnet.prefixlen}", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
        return self

    def pids(self, name: str) -> list[int]:
        """The processes running on host ``name``."""
        return [int(pid) for pid in _ip("netns", "pids", self.namespace(name), check=False).split()]

    def kill(self, name: str, unplug: bool = True, timeout: float = 10.0) -> list[int]:
        """SIGKILL every process of host ``name`` (until none is left) and, with ``unplug``, pull its cable out of
        the bridge: the host is gone from the network. Returns the pids killed."""
        killed: list[int] = []
        deadline = time.monotonic() + timeout
        while pids := self.pids(name):
            if time.monotonic() > deadline:
                raise TimeoutError(f"processes of {name} survive SIGKILL: {pids}")
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            killed += [pid for pid in pids if pid not in killed]
            time.sleep(0.05)
        if unplug and name not in self._unplugged:
            _ip("link", "del", self._cable[name], check=False)
            self._unplugged.add(name)
        return killed

    def close(self) -> None:
        """Remove everything ``up()`` made (what it managed to make), whatever still runs on the hosts."""
        for name in self.names:
            try:
                self.kill(name)
            except (TimeoutError, RuntimeError, subprocess.SubprocessError):
                pass
            _ip("netns", "del", self.namespace(name), check=False)
            _ip("link", "del", self._cable[name], check=False)  # gone with its namespace's end, normally
        _ip("link", "del", self.bridge, check=False)
