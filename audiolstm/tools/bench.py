r"""Benchmark: the reference scripts' work (../shared/bench/) through audiolstm's real code path.

  python -m audiolstm.tools.bench --approach column [--scale {dissertation,small}] [--iters 20]
      [--warmup 3] [--streams 1] [--dream-only] [--wav PATH] [--layers 1] [--seed 0]
  python -m audiolstm.tools.bench --vocoder [--seconds 30] [--bins 1024] [--hop 256] [--check-npz
  PATH]
  python -m audiolstm.tools.bench --realtime [--approaches column,fft] [--sizes 128,256] [--budget
  2]
      [--realtime-streams 1,8] [--overhead]

  python -m audiolstm.tools.bench --live [--approaches column,fft] [--live-seconds 20] [--rate
  48000] [--block 256]

`--live` (audiolstm.tools.bench_live) prints play mode's table: for each default and response,
the dream's real-time factor, underruns, the slowest blocks, resonate's added latency and
answer's first sample after a phrase.

`--realtime` (audiolstm.tools.bench_realtime) prints a table of stream mode's dream speed: for each
approach and model size, dream samples per second and the real-time factor per stream at 1 and 8
streams, then one line of the level chain's speed (loudness.Loudness at those stream counts);
`--overhead` also times the whole stream mode against its bare dream loop.

Training (the default) builds a resolved config with the reference's shapes (lr 1e-4, dense init
std 1e-5, no dropout, dreams that never end within the run), loads the audio with
`dataset.load_sources`, and times `program_lib.build(...).run_chunk`: the jitted, state-donating
chunk
loop the command line uses, one dispatch of `--iters` fused iterations (a training step plus one
dream step of every stream). `--dream-only` times `program.sequential_dream` (the jitted scan of
`sampling.sample_step` that the command line uses for sequential dreams) over `--iters` steps of
every stream, without training. Compilation is excluded: a call with zero iterations (or, for the
fixed-length dream scan, one whole call) compiles first, then `--warmup` iterations run, then the
timed ones. The last line is the references' `iters_per_s=<float> dream_samples_per_s=<float>`;
the line before it gives the compile time, how many programs the timed function compiled (1), how
many XLA compilations happened while timing (0) and the peak resident memory.

`--vocoder` times `vocoder.vocode` on the reference's workload (frames rand(T, bins)**4, integer
sine offsets randint(0, 200) turned into phases) and prints `audio_s_per_wall_s=<float>`;
`--check-npz` compares the output with `vocoder_reference.py --save-npz` (after scaling the
reference to the absolute peak: it divides by the signed maximum, a bug fixed here).
"""
import resource
import sys
import time

import numpy as np
from audiolstm.data import make_default_audio
from audiolstm.tools import bench_realtime
APPROACHES = ('vector', 'column', 'transpose', 'fft')


def parse_args(argv=None):
  from audiolstm import cli  # pylint: disable=g-import-not-at-top  # one-line errors, exit 2
  p = cli.ArgumentParser(prog='python -m audiolstm.tools.bench', description=__doc__.split('\n')[0])
  p.add_argument('--approach', choices=APPROACHES, default=None)
  p.add_argument('--iters', type=int, default=20, help='timed iterations (one dispatch)')
  p.add_argument('--streams', type=int, default=1, help='concurrent dream streams (batched)')
  p.add_argument('--wav', default=None, help='training audio (default: the 20 s synthetic signal)')
  p.add_argument('--scale', choices=['dissertation', 'small'], default='dissertation')
  p.add_argument('--layers', type=int, default=1)
  p.add_argument('--warmup', type=int, default=3, help='iterations run before timing')
  p.add_argument('--seed', type=int, default=0)
  p.add_argument('--dream-only', action='store_true', help='no training: only the dream steps')
  p.add_argument('--vocoder', action='store_true', help='time the vocoder instead')
  p.add_argument('--seconds', type=float, default=30.0, help='vocoder: seconds of audio')
  p.add_argument('--bins', type=int, default=1024, help='vocoder: frequency bins')
  p.add_argument('--hop', type=int, default=256, help='vocoder: samples per frame')
  p.add_argument('--sr', type=int, default=make_default_audio.SAMPLE_RATE,
                 help='vocoder: sample rate')
  p.add_argument('--repeats', type=int, default=5, help='vocoder: timed calls (median)')
  p.add_argument('--check-npz', default=None,
                 help="vocoder: the reference's --save-npz file; use its inputs, compare outputs")
  p.add_argument('--realtime', action='store_true', help='stream mode speed table')
  p.add_argument('--live', action='store_true', help='play mode: speed and latency of each '
                 'response (audiolstm.tools.bench_live)')
  p.add_argument('--live-seconds', type=float, default=20.0, help='live: seconds per cell')
  p.add_argument('--rate', type=int, default=48000, help='live: the device rate')
  p.add_argument('--block', type=int, default=256, help='live: frames per block')
  p.add_argument('--approaches', default=','.join(APPROACHES), help='realtime: comma list')
  p.add_argument('--sizes', default='128,256,512,1024,2048', help='realtime: seg_len, comma list')
  p.add_argument('--realtime-streams', default='1,8', help='realtime: stream counts, comma list')
  p.add_argument('--budget', type=float, default=2.0, help='realtime: timed seconds per cell')
  p.add_argument('--overhead', action='store_true', help='realtime: stream mode vs its bare loop, '
                 'for each of --approaches at its default size')
  a = p.parse_args(argv)
  if a.realtime or a.live:
    _parse_realtime(p, a)
  elif not a.vocoder and a.approach is None:
    p.error('--approach is required (or --vocoder, or --realtime)')
  if a.iters < 1 or a.warmup < 0 or a.streams < 1 or a.layers < 1:
    p.error('--iters, --streams and --layers must be >= 1, --warmup >= 0')
  return a


def _parse_realtime(p, a) -> None:
  """--realtime's lists, checked (one line and exit 2 for a bad one)."""
  a.approaches = [x for x in a.approaches.split(',') if x]
  bad = [x for x in a.approaches if x not in APPROACHES]
  if bad or not a.approaches:
    p.error(f'--approaches: {",".join(bad) or "none"}: choose from {",".join(APPROACHES)}')
  try:
    a.sizes = [int(x) for x in a.sizes.split(',') if x]
    a.realtime_streams = [int(x) for x in a.realtime_streams.split(',') if x]
  except ValueError:
    p.error('--sizes and --realtime-streams are comma lists of whole numbers, e.g. 128,256')
  if not a.sizes or min(a.sizes) < 2 or not a.realtime_streams or min(a.realtime_streams) < 1:
    p.error('--sizes must be >= 2 and --realtime-streams >= 1')
  if a.budget <= 0:
    p.error('--budget must be > 0 seconds')


def shapes(approach, scale):
  """The references' sizes for an approach and scale (dissertation Table 4.1 or small); the rest
  of the geometry is the approach's, derived by config.resolve.

  Args:
    approach: one of APPROACHES.
    scale: 'dissertation' or 'small'.

  Returns:
    {config field: value}: seg_len and num_unrollings, the derived geometry fields at 0 / ()
    and, for fft, window_size, hop_size and zero_padding.
  """
  if scale == 'dissertation':
    seg, nu = (2048, 10) if approach == 'column' else (1024, 100)
    window, hop = 1024, 256
  else:
    seg, nu, window, hop = 256, 16, 256, 64
  fft = dict(window_size=window, hop_size=hop, zero_padding=True) if approach == 'fft' else {}
  return dict(seg_len=seg, num_unrollings=nu, int_cursor_inc=0, ext_cursor_inc=0, label_offset=0,
              label_shape=(), **fft)


def bench_config(args, chunk_size):
  """(resolved config, geometry) doing the references' work.

  Args:
    args: the parsed command line (parse_args: approach, scale, wav, layers, streams, seed, iters).
    chunk_size: iterations per dispatch of the chunk loop.

  Returns:
    (resolved ConfigDict, its config.Geometry), as config.prepare returns them.
  """
  # jax loads only when a timing runs: --help stays quick
  from audiolstm.config import settings as config_lib  # pylint: disable=g-import-not-at-top
  from audiolstm.config import defaults  # pylint: disable=g-import-not-at-top
  c = defaults.get_config()
  c.approach = args.approach
  for k, v in shapes(args.approach, args.scale).items():
    c[k] = v
  c.input_files = (args.wav,) if args.wav else ()
  c.lr = 1e-4
  c.weight_stddev = 1e-5
  c.num_layers = args.layers
  c.num_dream_streams = args.streams
  c.use_dropout = False
  c.seed = args.seed
  c.seed_advance = ('random',)
  c.dream_seconds = 1.0          # set below, once the step's length is known
  c.chunk_size = chunk_size
  c.concurrent = True
  c, g = config_lib.prepare(c)
  per_step = config_lib.samples_per_dream_step(c, g)
  # The references never reseed a dream within a run: each dream lasts the whole run (warmup,
  # timed iterations and one to spare), and no longer, so that many streams stay under the
  # dream-memory limit (an hour of 8 column streams would not).
  c.dream_seconds = max(1.0, (args.warmup + args.iters + 1) * per_step / c.sample_rate)
  # --dream-only: one sequential dream of exactly `iters` steps.
  c.seq_dream_seconds = (args.iters - 0.5) * per_step / c.sample_rate
  config_lib.validate(c)
  return c, g


# ------------------------------------------------------------------------------------------
# Measuring
# ------------------------------------------------------------------------------------------
def peak_rss_mb():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def _time_dream(args, program, state, data, compiles):
  """Time one sequential dream of exactly args.iters steps of every stream (one jitted scan).

  Returns (compile s, timed s, last loss (nan), compilations cached, dispatches, warmup, XLA
  compilations before timing).
  """
  # jax loads only when a timing runs: --help stays quick
  import jax  # pylint: disable=g-import-not-at-top
  seq = program.sequential_dream
  carry0 = jax.numpy.zeros_like(state.dream_carry)

  def call(i):
    out = seq(state.params, data.seeds, jax.random.key(i), 0, state.same_offsets, 0, carry0)
    return out[0] if isinstance(out, tuple) else out   # (values, seed offsets) or values

  t0 = time.perf_counter()
  jax.block_until_ready(call(0))            # compiles (and runs `iters` steps once)
  compile_s = time.perf_counter() - t0
  before = compiles.count
  t1 = time.perf_counter()
  out = jax.block_until_ready(call(1))
  dt = time.perf_counter() - t1
  assert np.all(np.isfinite(np.asarray(out)))
  cache = seq._cache_size()  # pylint: disable=protected-access
  return compile_s, dt, float('nan'), cache, 1, args.iters, before  # warms up with one call


def _time_training(args, program, state, data, compiles):
  """Time one run_chunk of args.iters fused iterations (after args.warmup); as _time_dream."""
  # jax loads only when a timing runs: --help stays quick
  import jax  # pylint: disable=g-import-not-at-top
  t0 = time.perf_counter()
  # run_chunk returns (state, losses, dream values, ...): only the first two are used here.
  state = program.run_chunk(state, data, 0)[0]   # compiles; runs nothing
  jax.block_until_ready(state)
  compile_s = time.perf_counter() - t0
  if args.warmup:
    state = program.run_chunk(state, data, args.warmup)[0]
    jax.block_until_ready(state)
  before = compiles.count
  t1 = time.perf_counter()
  out = jax.block_until_ready(program.run_chunk(state, data, args.iters))
  dt = time.perf_counter() - t1
  last_loss = float(np.asarray(out[1][:args.iters])[-1])
  assert np.isfinite(last_loss), 'the loss is not finite'
  cache = program.run_chunk._cache_size()  # pylint: disable=protected-access
  return compile_s, dt, last_loss, cache, 1, args.warmup, before


def run_model(args):
  """Build the config of `args`, time its training chunk or its dream, print the key=value
  lines the comparison reads."""
  # jax loads only when a timing runs: --help stays quick
  import jax  # pylint: disable=g-import-not-at-top
  from audiolstm.audio import audio_io  # pylint: disable=g-import-not-at-top
  # jax loads only when a timing runs: --help stays quick
  from audiolstm.config import settings as config_lib  # pylint: disable=g-import-not-at-top
  from audiolstm.core import dataset  # pylint: disable=g-import-not-at-top
  # jax loads only when a timing runs: --help stays quick
  from audiolstm.core import program as program_lib  # pylint: disable=g-import-not-at-top
  from audiolstm.core import diagnostics  # pylint: disable=g-import-not-at-top  # imports jax
  compiles = diagnostics.CompileCounter().start()
  c, g = bench_config(args, max(args.iters, args.warmup, 1))
  load = audio_io.load_many if args.wav else (lambda paths, sr: bench_realtime.synthetic_signal())
  sources = dataset.load_sources(c, g, load=load)
  # seq_dream_seconds was set so that one sequential dream is exactly `iters` steps.
  assert not args.dream_only or config_lib.dream_steps(c, g, c.seq_dream_seconds) == args.iters
  program = program_lib.build(c, sources)
  data = program_lib.device_data(sources)
  state = jax.block_until_ready(program.init(data, jax.random.key(c.seed)))
  timer = _time_dream if args.dream_only else _time_training
  compile_s, dt, last_loss, cache, dispatches, warmup, before = timer(
      args, program, state, data, compiles)
  timed_compiles = compiles.count - before
  ips = args.iters / dt
  print(f'impl=audiolstm jax={jax.__version__} backend={jax.default_backend()} '
        f'device={jax.devices()[0].device_kind} approach={args.approach} scale={args.scale} '
        f'timed={"sequential_dream" if args.dream_only else "run_chunk"} '
        f'streams={args.streams} layers={args.layers} iters={args.iters} warmup={warmup} '
        f'dispatches={dispatches} chunk_size={c.chunk_size} seconds={dt:.3f} '
        f'last_loss={last_loss:.4g}', flush=True)
  print(f'compile_s={compile_s:.2f} compilations={cache} timed_compilations={timed_compiles} '
        f'xla_compilations={compiles.count} peak_rss_mb={peak_rss_mb():.0f}', flush=True)
  samples = config_lib.samples_per_dream_step(c, g)
  print('iters_per_s=%.6g dream_samples_per_s=%.6g' % (ips, ips * args.streams * samples),
        flush=True)


def run_vocoder(args):
  # jax loads only when a timing runs: --help stays quick
  import jax  # pylint: disable=g-import-not-at-top
  from audiolstm.audio import vocoder  # pylint: disable=g-import-not-at-top

  from audiolstm.core import diagnostics  # pylint: disable=g-import-not-at-top  # imports jax
  compiles = diagnostics.CompileCounter().start()
  if args.check_npz:
    ref = np.load(args.check_npz)
    frames, offsets = ref['frames'], ref['offsets']
    hop, sr = int(ref['hop']), int(ref['sr'])
  else:
    rng = np.random.RandomState(args.seed)
    n_frames = int(args.seconds * args.sr / args.hop)
    frames = rng.rand(n_frames, args.bins) ** 4
    offsets = rng.randint(0, 200, size=args.bins)
    hop, sr = args.hop, args.sr
  frames = np.asarray(frames, np.float32)  # the model's frames are float32

  def vocode():
    phases = vocoder.phases_from_offsets(offsets, frames.shape[1])
    return np.asarray(vocoder.vocode(frames, hop, phases))  # host in, host out, as the reference

  t0 = time.perf_counter()
  out = vocode()                                              # compiles
  compile_s = time.perf_counter() - t0
  before = compiles.count
  times = []
  for _ in range(max(1, args.repeats)):
    t1 = time.perf_counter()
    out = vocode()
    times.append(time.perf_counter() - t1)
  dt = float(np.median(times))
  audio_s = len(out) / sr
  print(f'impl=audiolstm jax={jax.__version__} backend={jax.default_backend()} vocoder '
        f'frames={frames.shape[0]} bins={frames.shape[1]} hop={hop} sr={sr} '
        f'samples={len(out)} repeats={len(times)}', flush=True)
  print(f'compile_s={compile_s:.2f} timed_compilations={compiles.count - before} '
        f'peak_rss_mb={peak_rss_mb():.0f}', flush=True)
  if args.check_npz:
    want = np.asarray(ref['out'], np.float64)
    want = want / np.max(np.abs(want))   # the reference divides by the signed maximum
    err = float(np.max(np.abs(out - want))) if len(out) == len(want) else float('inf')
    ok = err <= 1e-4
    print(f'check_npz={args.check_npz} samples={len(want)} max_abs_diff={err:.3g} '
          f'{"OK" if ok else "MISMATCH"}', flush=True)
  print('seconds=%.4f audio_s_per_wall_s=%.2f' % (dt, audio_s / dt), flush=True)
  if args.check_npz and not ok:
    sys.exit(1)


def main(argv=None):
  args = parse_args(argv)
  if args.live:
    # jax loads only when a timing runs
    from audiolstm.tools import bench_live  # pylint: disable=g-import-not-at-top
    bench_live.live(args.approaches, args.live_seconds, args.rate, args.block)
    return 0
  if args.realtime:
    # jax loads only when a timing runs: --help stays quick
    from audiolstm.tools import bench_realtime  # pylint: disable=g-import-not-at-top
    bench_realtime.realtime(args.approaches, args.sizes, args.realtime_streams, args.budget)
    for approach in args.approaches if args.overhead else ():
      bench_realtime.overhead(approach)
  elif args.vocoder:
    run_vocoder(args)
  else:
    run_model(args)


if __name__ == '__main__':
  main()
