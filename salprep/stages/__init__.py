"""Per-video stages: one runner (:mod:`~salprep.stages.runner`), frame samplers
(:mod:`~salprep.stages.samplers`) and one small module per stage (``gt``, ``flow_tvl1``,
``flow_spynet``, ``depth``, ``i3d``), each a ``build_*`` function that describes its work as a
:class:`~salprep.stages.runner.StageRun` and hands it to :func:`~salprep.stages.runner.run_stage`.

Nothing heavy is imported here: ``salprep.stages.samplers`` and the pure parts of
``salprep.stages.i3d`` (pooling, window encoding) work with numpy and torch alone.
"""
