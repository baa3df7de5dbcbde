"""Komet's platform as it runs inside the emulated nodes (SoCC '24, Sec. 4 and 6).

* :mod:`.nodehost`   the Komet server of every satellite: a tinyFaaS-like function
  runtime (deploy, invoke, delete) and the keygroup store (one Redis per keygroup),
  many satellites per process, each satellite's sockets in its own namespace
* :mod:`.worker`     one function instance: a process in the satellite's namespace
* :mod:`.kv`         the keygroup client functions use (local replica, writes to the
  primary, reads of items not replicated yet from the primary)
* :mod:`.client`     the cache client of a ground station: WebSocket subscription to
  the scheduler, requests, one CSV row per request
* ``functions/``     the functions (the cache's get/put/put_count; crash for fault tests)

The control side (scheduler, migration, platform service) is :mod:`leonet.komet`.
"""
