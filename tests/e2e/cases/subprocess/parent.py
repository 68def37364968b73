"""A Python program that runs another Python program with subprocess."""

import subprocess
import sys


def run_child():
    out = subprocess.run([sys.executable, "child.py", "21"], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def main():
    print("parent got:", run_child())


main()
