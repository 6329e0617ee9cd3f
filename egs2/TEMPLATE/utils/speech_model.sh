#!/usr/bin/env bash
# Sourced by the encoding recipes' run.sh: what kind of speech model a --speech_model / --pretrained_model names.
#
#   is_whisper MODEL   true when MODEL is a Whisper: a short id of the installed packages, a CTranslate2 Whisper
#                      directory (model.bin, no Hugging Face weights) or a Hugging Face directory whose config.json
#                      has model_type whisper

is_whisper() {
    case "$1" in whisper-tiny.en | whisper-base) return 0 ;; esac
    [ -d "$1" ] || return 1
    if [ -f "$1/model.bin" ] && ! compgen -G "$1/model.safetensors*" >/dev/null \
        && ! compgen -G "$1/pytorch_model.bin*" >/dev/null; then
        return 0
    fi
    [ -f "$1/config.json" ] \
        && [ "$(python3 -m espnet_brain.bin.config_value "$1/config.json" model_type 2>/dev/null)" = whisper ]
}
