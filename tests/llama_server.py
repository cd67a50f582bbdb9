"""A real OpenAI-compatible llama.cpp server (xllamacpp) on a free loopback port, for tests.

Usage: python tests/llama_server.py MODEL.gguf  → prints "LISTENING http://127.0.0.1:PORT" and serves until killed.
"""

import sys
import time

import xllamacpp


def main() -> None:
    params = xllamacpp.CommonParams()
    params.model.path = sys.argv[1]
    params.n_ctx = 2048
    params.n_parallel = 1
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.model_alias = "smollm2"
    server = xllamacpp.Server(params)
    print(f"LISTENING {server.listening_address}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
