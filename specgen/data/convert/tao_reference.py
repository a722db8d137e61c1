"""TAO 7.3.0 ``depth_net convert``, ported line for line: the anchor of ``benchmarks/convert_bench.py`` and the oracle
of the property tests. Not used by the product.

The logic of ``create_split`` in ``nvidia_tao_pytorch/cv/depth_net/scripts/convert.py`` (the public wheel), in our
words: ``os.listdir(data_root)``; ``os.walk`` of each entry (files directly in data_root are never seen); a path is
an image when it contains every image pattern (substring AND) and ends with the image extension (the extension is
ignored when it has one character or none); ``random.shuffle``; train = the first ``int(n * split_ratio)`` (0 or 1:
everything to test); each depth path is the image path with each image pattern replaced by its depth pattern in
turn, then every occurrence of the image extension by the depth extension; the lines are appended to
``<results_dir>/<split>.txt``. No depth file is checked for existence. ``tests/test_convert.py`` runs the
wheel's own function on a generated tree and compares its files with ``create_split``'s, byte for byte.

Standard library only, and runnable as a script by its path (``python tao_reference.py …``), so the benchmark's
anchor process imports what TAO's logic needs and nothing of ours.
"""

from __future__ import annotations

import argparse
import os
import random


def glob_matching(directory: str, patterns: list[str], extension: str) -> dict[str, int]:
    """TAO's ``glob_one_directory``: matching paths under ``directory`` as dict keys (ordered, no duplicates)."""
    matches: dict[str, int] = {}
    use_patterns = len(patterns) > 0
    use_extension = len(extension) > 1
    for dirpath, _dirs, filenames in os.walk(directory):
        for filename in filenames:
            path = os.path.join(dirpath, filename)
            if use_extension and not use_patterns:
                ok = path.endswith(extension)
            elif use_patterns and not use_extension:
                ok = all(p in path for p in patterns)
            else:  # both, and also neither: then the (short) extension still has to end the path
                ok = all(p in path for p in patterns) and path.endswith(extension)
            if ok:
                matches[path] = 0
    return matches


def split(files: list[str], split_ratio: float) -> dict[str, list[str]]:
    """TAO's ``train_val_test_split``: shuffles ``files`` in place (the module-level, unseeded ``random``)."""
    random.shuffle(files)
    if split_ratio in (1.0, 0.0):
        return {"test": files}
    cut = int(float(len(files)) * split_ratio)
    return {"train": files[0:cut], "val": files[cut:]}


def derive(
    images: list[str], image_patterns: list[str], depth_patterns: list[str], image_ext: str, depth_ext: str
):
    """The depth path of each image: chained replacement of each pattern, then the extension swap."""
    depths = []
    for path in images:
        for i in range(len(image_patterns)):
            path = path.replace(image_patterns[i], depth_patterns[i])  # IndexError with fewer depth patterns
        depths.append(path)
    return [d.replace(image_ext, depth_ext) for d in depths]


def create_split(
    data_root: str,
    results_dir: str,
    image_patterns: list[str],
    depth_patterns: list[str],
    image_extension: str = ".jpg",
    depth_extension: str = ".png",
    split_ratio: float = 0.8,
) -> None:
    """Write TAO's split files for a mono dataset (the stereo right/occlusion columns are left out)."""
    all_files: list[str] = []
    for entry in os.listdir(data_root):
        all_files.extend(glob_matching(os.path.join(data_root, entry), image_patterns, image_extension))
    for name, images in split(all_files, split_ratio).items():
        depths = (
            derive(images, image_patterns, depth_patterns, image_extension, depth_extension)
            if depth_patterns
            else None
        )
        path = os.path.join(results_dir, name + ".txt")
        if not os.path.isfile(path):
            open(path, "w").close()
        with open(path, "a") as f:  # appended: a second run duplicates every line, as TAO's does
            if depths is None:
                for image in images:
                    f.write(image + "\n")
            else:
                for i in range(len(images)):
                    f.write(f"{images[i]} {depths[i]}" + "\n")


def tao_pairs(
    data_root: str,
    image_patterns: list[str],
    depth_patterns: list[str],
    image_extension: str,
    depth_extension: str,
    *,
    check_exists: bool = False,
) -> list[tuple[str, str]]:
    """The (image, depth) pairs ``create_split`` would write, unshuffled; ``check_exists`` keeps complete ones only."""
    images: list[str] = []
    for entry in os.listdir(data_root):
        images.extend(glob_matching(os.path.join(data_root, entry), image_patterns, image_extension))
    depths = derive(images, image_patterns, depth_patterns, image_extension, depth_extension)
    return [(i, d) for i, d in zip(images, depths, strict=True) if not check_exists or os.path.exists(d)]


def main() -> None:
    ap = argparse.ArgumentParser(description="TAO 7.3.0's depth_net convert logic (the benchmark's anchor)")
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--results-dir", required=True)
    ap.add_argument("--image-pattern", action="append", default=[])
    ap.add_argument("--depth-pattern", action="append", default=[])
    ap.add_argument("--image-ext", default=".jpg")
    ap.add_argument("--depth-ext", default=".png")
    ap.add_argument("--split-ratio", type=float, default=0.8)
    ap.add_argument("--seed", type=int, help="seed the module-level random (TAO does not)")
    args = ap.parse_args()
    if args.seed is not None:
        random.seed(args.seed)
    os.makedirs(args.results_dir, exist_ok=True)  # TAO's check_and_create
    create_split(
        args.data_root,
        args.results_dir,
        args.image_pattern,
        args.depth_pattern,
        args.image_ext,
        args.depth_ext,
        args.split_ratio,
    )


if __name__ == "__main__":
    main()
