#pragma once

#include "server/serverconfig.h"

#include <QDialog>
#include <QLatin1String>
#include <QProcessEnvironment>
#include <QStringList>
#include <QVariantMap>

#include <memory>

class QLabel;

namespace Ui {
class SettingsDialog;
}

namespace agmem {

// File ▸ Settings: the saved options. The QSettings keys are the option names of the
// option table (config/options.h: "host", "port", "merge-mode", "max-body", …), so what is
// saved here applies at the next launch, headless too (flag > environment > saved >
// default). A value equal to its default is not stored: its key is removed. Nothing is
// written before OK or Apply, and nothing at all while a field is invalid.
class SettingsDialog : public QDialog
{
    Q_OBJECT

public:
    // Window only (not an option): start serving when the app starts (src/gui/dashboard.cpp).
    static constexpr QLatin1String StartAtLaunchKey{"start-at-launch"};

    explicit SettingsDialog(QWidget *parent = nullptr);
    ~SettingsDialog() override;

    // Every key the dialog edits, in the order of the dialog.
    static QStringList keys();
    // The default of a key, as value() returns it.
    static QVariant defaultValue(const QString &key);
    // Server keys take effect at the server's next start; the others (the database,
    // start-at-launch) at the app's next start.
    static bool isServerKey(const QString &key);

    // The input of a key: field("port") is a QSpinBox, field("host") a QLineEdit, …
    QWidget *field(const QString &key) const;
    // A key's value in the dialog now, as it would be saved (host normalized, a relative
    // SQLite path made absolute; numbers as qlonglong, rate-limit as double).
    QVariant value(const QString &key) const;
    bool isValid() const;
    // Whether a field differs from what is saved.
    bool isModified() const;

    // Saves every value (a default removes its key). False, writing nothing, while a
    // field is invalid. `changed`: the keys whose saved value changed. Emits applied().
    bool apply(QStringList *changed = nullptr);
    // Puts every field back to its default; saved by OK or Apply.
    void restoreDefaults();

    // The flag or environment variable that sets `key` for this run (e.g. "--port",
    // "AGMEM_COORDINATOR_HOST", "DATABASE_URL"), or empty.
    QString overriddenBy(const QString &key) const;
    // The command line and environment overrides are read from (default: this process's).
    void setRunContext(const QStringList &arguments, const QProcessEnvironment &environment);

    // Writes the values of the server keys among `keys` into `config`, except those
    // overridden for this run. Returns the keys that changed `config`.
    QStringList applyTo(ServerConfig *config, const QStringList &keys) const;

    void accept() override;

Q_SIGNALS:
    // OK or Apply saved the settings and `changed` is not empty.
    void applied(const QStringList &changed);

protected:
    void changeEvent(QEvent *event) override;

private:
    void load();
    void retranslateButtons();
    void setValue(const QString &key, const QVariant &value);
    QVariantMap values() const;
    void validate();
    void updateOverrides();
    void updateButtons();
    void browseDatabase();
    void browseFile(QWidget *edit, const QString &title);
    QString tlsError(QString *summary) const;
    QString fieldName(const QString &key) const;
    static void showStatus(QLabel *label, const QString &text, bool error);

    std::unique_ptr<Ui::SettingsDialog> m_ui;
    QVariantMap m_saved;
    QStringList m_arguments;
    QProcessEnvironment m_environment;
    bool m_valid = true;
};

} // namespace agmem
