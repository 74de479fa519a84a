"""CloudFormation templates as topologies: the template read and checked (``template``,
``intrinsics``), deployed in the emulated world (``deploy``, ``topology``) or by CloudFormation on
a real account (``account``); ``web-app.yaml`` is the shipped web-app topology as a template."""
