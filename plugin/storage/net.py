"""Where an address points: Redress calls only public hosts (a merchant's store, the team's chat webhook)
unless the operator allows private ones for local development, so a URL typed into a form cannot reach
the server's own network."""

from __future__ import annotations

import ipaddress
import socket


def resolves_privately(host: str) -> bool:
    """Whether any address `host` resolves to is private, loopback, link-local or otherwise not public.
    Raises socket.gaierror for a host that does not resolve."""
    for info in socket.getaddrinfo(host, None):
        addr = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved \
                or addr.is_multicast or addr.is_unspecified:
            return True
    return False
