#!/usr/bin/python3
"""Build a sharded discodb with Dask distributed.

The input (JSON Lines records {"key": K, "value": V} or {"key": K, "values": [V, ...]}, keys
and values as strings; a record without values adds the key alone) is read as a dask.bag and
partitioned ON THE WORKERS by the rule every discodb tool uses: CRC-32 (zlib.crc32, IEEE) of
the partition field's UTF-8 bytes, mod N. Under --partition-by value (the default) each value
goes to the shard of its value (a key alone to the shard of its key); under --partition-by
key the whole record goes to the shard of its key. Each shard is then built by the `discodb`
CLI in a worker process (`discodb create part-I.ddb` fed only that shard's records, in input
order, so the file is byte-identical to `discodb create part-I.ddb --shard I/N INPUT...`),
the shard files are collected into --out, and `discodb manifest` checks them and writes the
manifest. The directory then reads as one db: `discodb query OUT 'a & ~b'`.

    /usr/bin/python3 examples/dask/build_sharded.py --local-workers 2 --shards 4 --out idx in.jsonl
    /usr/bin/python3 examples/dask/build_sharded.py --scheduler tcp://10.0.0.5:8786 --shards 64 --out idx in-*.jsonl

With --scheduler the inputs must be readable by the workers (a shared file system or any URL
dask.bag.read_text accepts, e.g. s3://...). Needs Dask distributed (Debian: apt-get install
python3-distributed) and the discodb CLI on every worker (--discodb says how to run it).
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import zlib


def shard_of(text, n):
    """The shard of a key or value: crc32 of its UTF-8 bytes mod n (discodb's shardOf)."""
    return zlib.crc32(text.encode("utf-8")) % n


def field(x, what, line):
    if isinstance(x, str):
        return x
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)  # as discodb reads a JSON integer
    raise ValueError("%s must be a string, got %r in line %r" % (what, x, line[:80]))


def split_lines(lines, n, partition_by):
    """One bag partition -> [{shard: [record lines of that shard, in input order]}]."""
    out = {}
    for line in lines:
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        rec = json.loads(line)
        key = field(rec.get("key"), "key", line)
        raw = rec.get("values", rec.get("value"))
        if raw is None:
            values = []
        elif isinstance(raw, list):
            values = [field(v, "value", line) for v in raw]
        else:
            values = [field(raw, "value", line)]
        if partition_by == "key" or not values:
            pieces = {shard_of(key, n): values}
        else:
            pieces = {}
            for v in values:
                pieces.setdefault(shard_of(v, n), []).append(v)
        for s in sorted(pieces):
            out.setdefault(s, []).append(json.dumps({"key": key, "values": pieces[s]}, ensure_ascii=False))
    return [out]


def shard_lines(partition, shard):
    """The lines of one shard in one bag partition."""
    return partition[0].get(shard, [])


def build_shard(shard, chunks, discodb):
    """Runs in a worker: builds part-SHARD.ddb from its lines with the discodb CLI; returns the file's bytes."""
    tmp = tempfile.mkdtemp(prefix="discodb-shard-%d-" % shard)
    try:
        records = os.path.join(tmp, "part-%d.jsonl" % shard)
        with open(records, "w", encoding="utf-8") as f:
            for chunk in chunks:
                for line in chunk:
                    f.write(line)
                    f.write("\n")
        out = os.path.join(tmp, "part-%d.ddb" % shard)
        r = subprocess.run(discodb + ["create", "--quiet", "--format", "jsonl", out, records], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("discodb create failed for shard %d on %s: %s" % (shard, os.uname().nodename, r.stderr.strip()))
        with open(out, "rb") as f:
            return f.read()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    p = argparse.ArgumentParser(description="Build a sharded discodb with Dask distributed.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="address of a running Dask scheduler")
    where.add_argument("--local-workers", type=int, metavar="W", help="start a LocalCluster of W worker processes on 127.0.0.1")
    p.add_argument("--shards", type=int, required=True, metavar="N")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created)")
    p.add_argument("--partition-by", choices=["value", "key"], default="value")
    p.add_argument("--discodb", default="discodb", help='how to run the discodb CLI (default "discodb"; e.g. "node dist/lib/cli/main.js")')
    p.add_argument("--blocksize", default="16MiB", help="bytes of input per bag partition (default 16MiB)")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    a = p.parse_args(argv)
    if a.shards < 1:
        p.error("--shards must be at least 1")
    discodb = shlex.split(a.discodb)

    import dask
    import dask.bag as db
    from distributed import Client, LocalCluster

    cluster = None
    if a.local_workers is not None:
        # Real worker processes and a real scheduler, on this machine only.
        cluster = LocalCluster(n_workers=a.local_workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(a.scheduler)
    try:
        inputs = [os.path.abspath(i) if "://" not in i else i for i in a.inputs]
        lines = db.read_text(inputs, blocksize=a.blocksize)
        parts = lines.map_partitions(split_lines, a.shards, a.partition_by).to_delayed()
        builds = [
            dask.delayed(build_shard)(s, [dask.delayed(shard_lines)(part, s) for part in parts], discodb)
            for s in range(a.shards)
        ]
        images = client.compute(builds, sync=True)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

    os.makedirs(a.out, exist_ok=True)
    manifest = os.path.join(a.out, "discodb.json")
    if os.path.exists(manifest):
        os.remove(manifest)  # the directory is not a db until the new manifest is written
    for s, image in enumerate(images):
        path = os.path.join(a.out, "part-%d.ddb" % s)
        with open(path + ".tmp", "wb") as f:
            f.write(image)
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".tmp", path)
    r = subprocess.run(discodb + ["manifest", a.out, "--shards", str(a.shards), "--partition-by", a.partition_by])
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
