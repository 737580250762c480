#include "dashboard.h"

#include "mainwindow.h"
#include "settingsdialog.h"
#include "stallprobe.h"

#include <QApplication>
#include <QLibraryInfo>
#include <QLocale>
#include <QSettings>
#include <QTranslator>

namespace agmem {

bool installTranslations(const QString &language)
{
    const QLocale locale = language.isEmpty() ? QLocale() : QLocale(language);
    if (!language.isEmpty())
        QLocale::setDefault(locale);
    // Qt's own strings (standard dialogs), when the system has them.
    auto *qt = new QTranslator(qApp);
    if (qt->load(locale, QStringLiteral("qtbase"), QStringLiteral("_"),
                 QLibraryInfo::path(QLibraryInfo::TranslationsPath)))
        QCoreApplication::installTranslator(qt);
    else
        delete qt;
    auto *own = new QTranslator(qApp);
    // English too (the plural forms of "%n topic(s)"), also as the fallback for a system
    // language without a translation.
    if (!own->load(locale, QStringLiteral("agmem-coordinator"), QStringLiteral("_"),
                   QStringLiteral(":/i18n")) &&
        !own->load(QStringLiteral(":/i18n/agmem-coordinator_en.qm"))) {
        delete own;
        return false;
    }
    return QCoreApplication::installTranslator(own);
}

int runDashboard(QApplication &app, const ServerConfig &config, const QString &language)
{
    installTranslations(language);
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/agmem.svg")));
    // bench/gui-stall.sh: the event loop's worst stall, logged every 10 s and at exit.
    const std::unique_ptr<StallProbe> probe = StallProbe::fromEnvironment();
    MainWindow window(config);
    StallProbe::showTabFromEnvironment(&window);
    StallProbe::markFirstPaint(&window);
    window.show();
    // Serving starts with the window unless the person turned that off.
    if (QSettings().value(SettingsDialog::StartAtLaunchKey, true).toBool())
        window.startServer();
    return app.exec();
}

} // namespace agmem
