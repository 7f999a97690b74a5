#!/usr/bin/env python3
"""Builds chp2020-herbs.json, the shipped herb dictionary, from herbs.csv.

herbs.csv is the herb reference data of this project (616 rows, the 药材和饮片
monographs of the Chinese Pharmacopoeia 2020 一部, each field with its source
and how sure it is; see README.md beside it). Every row keeps what register
checks (中文名, the pharmacopoeia's Latin drug name, the source species with
authority, the part used, the category) and, when the data marks it for
review, the reason: such a row is checked on its Chinese name only.

Run from this folder: python3 build-dictionary.py > chp2020-herbs.json
"""
import csv
import json
import sys

CATEGORIES = {"plant", "animal", "mineral", "fungus"}


def row(r):
    out = {"name_zh": r["name_zh"].strip()}
    if r["pinyin"].strip():
        out["pinyin"] = r["pinyin"].strip()
    if r["latin_drug_name"].strip():
        out["latin"] = r["latin_drug_name"].strip()
    species = [s.strip() for s in r["source_species"].split("|") if s.strip()]
    if species:
        out["species"] = species[:8]
    if r["part_used"].strip():
        out["part"] = r["part_used"].strip()
    alts = [a.split(":", 1)[-1].strip() for a in r["part_alt"].split(";") if a.strip()]
    if alts:
        out["parts"] = alts[:8]
    cat = r["category"].strip()
    out["category"] = cat if cat in CATEGORIES else "other"
    if r["parent_herb"].strip():
        out["parent"] = r["parent_herb"].strip()
    review = r["needs_review"].strip()
    if not species or "part" not in out or "latin" not in out:
        review = review or "incomplete data"
    if review:
        out["review"] = review
    return out


def main():
    with open("herbs.csv", newline="", encoding="utf-8") as f:
        rows = [row(r) for r in csv.DictReader(f)]
    doc = {
        "edition": "中国药典 2020年版 一部 药材和饮片 (616 monographs), from public secondary sources",
        "source": "tcmtrace schemas/herbs/herbs.csv: merged from the sources named in schemas/herbs/README.md; rows with \"review\" are checked on their Chinese name only",
        "herbs": rows,
    }
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
