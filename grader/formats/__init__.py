"""Report formats, each rendered from one :class:`grader.runner.RunResult` (see grader.report)."""
