"""Takes tool ids 4 and 5 while Python starts: the first is the one glass holds by then."""
import sys

if hasattr(sys, "monitoring"):
    for tool in (4, 5):
        sys.monitoring.use_tool_id(tool, f"site{tool}")
