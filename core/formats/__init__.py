"""How dates and times read on every page and e-mail, per language (settings.FORMAT_MODULE_PATH):
in words, never day/month or month/day figures people could read either way. Templates and code
ask for the named formats (DATE_FORMAT, DATETIME_FORMAT, TIME_FORMAT) rather than patterns of
their own; the SHORT_ ones read the same. Input formats stay Django's."""
