from rcp.cli import main

main()
