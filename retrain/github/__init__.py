"""GitHub: its REST APIs (checks, comments, compare, the Git database), workflow commands and files, the dispatch form."""
