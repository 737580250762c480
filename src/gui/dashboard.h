#pragma once

#include "server/serverconfig.h"

#include <QString>

class QApplication;

namespace agmem {

// Loads the window's translations for `language` ("de", "fr", "es"; empty: the system
// locale). Returns false when no translation for it is built in (English is).
bool installTranslations(const QString &language);

// Shows the dashboard and runs the event loop until the window is closed.
int runDashboard(QApplication &app, const ServerConfig &config, const QString &language);

} // namespace agmem
