"""TAO 7.3.0 ``depth_net convert``'s pairing logic, written the straightforward way.

Not used by the product: it is the oracle for the property tests and the baseline in the benchmark.
It follows the description in the shared reference, step by step (os.walk, substring checks, chained
replacement, then the extension swap), and checks each pair with ``os.path.exists`` as a naive port would.
"""

from __future__ import annotations

import os


def tao_pairs(
    data_root: str,
    image_patterns: list[str],
    depth_patterns: list[str],
    image_extension: str,
    depth_extension: str,
    *,
    check_exists: bool = False,
) -> list[tuple[str, str]]:
    pairs = []
    for entry in os.listdir(data_root):
        for root, _dirs, files in os.walk(os.path.join(data_root, entry)):
            for name in files:
                path = os.path.join(root, name)
                if not all(p in path for p in image_patterns):
                    continue
                if len(image_extension) > 1 and not path.endswith(image_extension):
                    continue
                depth = path
                for i in range(len(image_patterns)):
                    depth = depth.replace(image_patterns[i], depth_patterns[i])
                depth = depth.replace(image_extension, depth_extension)
                if check_exists and not os.path.exists(depth):
                    continue
                pairs.append((path, depth))
    return pairs
