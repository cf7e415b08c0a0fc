// placeholder: context-aware transformer scorer (in progress)
