"""Where outgoing webhooks may go: never into the network Politely itself runs in.

A tenant chooses the URL and can read the start of the answer, so an address on loopback,
a private range or a cloud metadata service would let it probe the inside. Local receivers
are allowed only with POLITELY_ALLOW_PRIVATE_WEBHOOKS=1 (development and tests).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class PrivateAddress(ValueError):
    pass


def refuse_private(url: str) -> None:
    """Raise PrivateAddress when the URL's host is, or resolves to, an internal address."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return  # it cannot be reached either; the delivery will fail and say so
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise PrivateAddress(f"{host} is an internal address ({address})")
