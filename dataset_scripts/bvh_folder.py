"""Convert a folder of BVH files plus labels into an EAI-LLM corpus (a datasets.DatasetDict).

Every *.bvh under --input-dir (recursively) becomes one clip. Labels come either from a CSV
(--labels-csv, header file,label[,actor,action,description]; 'file' is the path relative to the
input folder or the bare file name) or from the file names (--label-regex, a Python regex matched
against the file name, with a named group 'label' and optionally 'actor' and 'action').
Synonyms are merged with --label-map; --labels fixes the allowed label set (default: every label
found). The skeleton layout is read from the BVH hierarchy (a placeholder root at the origin is
dropped); every file must have the same hierarchy under one --layout-name. Units are --units, or with
--units auto (the default) detected once, from the body height in the first file read, and used for
every file (printed). BVH is Y-up unless --up-axis z.

Example, the real Bandai-Namco mocap subset with its styles as labels:
  python dataset_scripts/bvh_folder.py --input-dir ../shared/data/bandai-namco-ds2-subset/data \\
      --label-regex 'dataset-2_(?P<action>.+)_(?P<label>[a-z]+)_\\d+\\.bvh' \\
      --corpus bandai --layout-name bandai21 --output-dir data_cache/bandai
"""

import argparse

from eai_llm.corpus import bvh_reader, input_files

from converter_cli import add_converter_args, add_label_args, convert_from_args, run_script, sources_from_args


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_converter_args(parser)
    add_label_args(parser)
    parser.add_argument("--corpus", help="corpus name stored in each row (default: the input folder's name)")
    parser.add_argument("--layout-name", help="name of the layout read from the BVH hierarchy "
                                              "(default: bvh_ + a hash of the hierarchy)")
    parser.add_argument("--up-axis", choices=["y", "z"], default="y")
    parser.add_argument("--units", choices=["auto", "m", "cm", "mm"], default="auto",
                        help="length unit of the files; auto: detected from the body height in the first file "
                             "read and used for every file")
    args = parser.parse_args(argv)

    files = input_files(args.input_dir, [".bvh"])
    sources, label_names = sources_from_args(files, args)
    read = bvh_reader(units=args.units, up_axis=args.up_axis, layout_name=args.layout_name)
    convert_from_args(sources, read, args.corpus or args.input_dir.resolve().name, label_names, args)


if __name__ == "__main__":
    run_script(main)
