from loki_mode.cli.main import main

main()
