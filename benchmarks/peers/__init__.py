"""The peer servers of ``benchmarks/bench_peers.py``: the same network and preprocessing as the service,
served by the stacks people would pick instead. Each runs in its own virtual environment, built by
``bench_peers.py``; none of them is imported by ``app/`` or ``model/``.
"""
