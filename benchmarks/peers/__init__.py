"""``python -m benchmarks.bench_peers``'s parts, and the peer servers it compares the service with.

The harness, which runs in the project's environment: :mod:`.servers`, :mod:`.build`, :mod:`.check`,
:mod:`.payloads`, :mod:`.processes`, :mod:`.load`, :mod:`.runner`, :mod:`.report`.

The peer servers (the same network and preprocessing as the service, served by the stacks people would
pick instead), each run in its own virtual environment and importing only :mod:`.common`,
:mod:`.torch_net` and the repository's ``model``: :mod:`.fastapi_ort`, :mod:`.fastapi_torch`,
:mod:`.litserve_app`, :mod:`.bentoml_service`, :mod:`.decode_only`; :mod:`.export` checks their engines.
None of this is imported by ``app/`` or ``model/``.
"""
