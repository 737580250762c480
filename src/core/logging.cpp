#include "logging.h"

Q_LOGGING_CATEGORY(lcCore, "agmem.core", QtInfoMsg)
Q_LOGGING_CATEGORY(lcStore, "agmem.store", QtInfoMsg)
Q_LOGGING_CATEGORY(lcServer, "agmem.server", QtInfoMsg)
Q_LOGGING_CATEGORY(lcAccess, "agmem.access", QtInfoMsg)
Q_LOGGING_CATEGORY(lcApp, "agmem.app", QtInfoMsg)
Q_LOGGING_CATEGORY(lcGui, "agmem.gui", QtInfoMsg)
