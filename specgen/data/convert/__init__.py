"""The dataset step's engine: a TAO-faithful ``depth_net convert`` planner with pitfall detection."""

from specgen.data.convert.index import FileIndex, WalkCancelled, build_index
from specgen.data.convert.planner import ConvertOptions, Pitfall, Plan, plan
from specgen.data.convert.writer import WriteResult, write_annotations

__all__ = [
    "ConvertOptions",
    "FileIndex",
    "Pitfall",
    "Plan",
    "WalkCancelled",
    "WriteResult",
    "build_index",
    "plan",
    "write_annotations",
]
