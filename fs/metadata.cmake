# placeholder: the SQLite metadata library is defined here
