"""`python -m audiolstm.bench`: the benchmark's short name (the code is audiolstm.tools.bench;
`audiolstm bench` is the same)."""
import sys

from audiolstm.tools import bench

if __name__ == '__main__':
  sys.exit(bench.main())
