"""Board description files (*.yaml), installed as package data: see finngen.board.boards."""
