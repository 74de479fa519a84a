"""The emulated world on the network: a gateway per region, the DNS server, the web tier.

See :mod:`pytest_drtest.gateway.addresses` for the address map and docs/backends.md for how a
process, an SDK or the AWS CLI uses it.
"""
