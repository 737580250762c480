#include "settingsdialog.h"
#include "ui_settingsdialog.h"

#include "config/options.h"
#include "server/tlsfiles.h"

#include <QCheckBox>
#include <QCoreApplication>
#include <QDateTime>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QHostAddress>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMessageBox>
#include <QPushButton>
#include <QRadioButton>
#include <QSettings>
#include <QSpinBox>
#include <QSslCertificate>
#include <QSslSocket>
#include <QStyle>

#include <cmath>

namespace agmem {

namespace {

enum class Kind
{
    Text,   // QLineEdit
    Number, // QSpinBox or QDoubleSpinBox without decimals: qlonglong
    Real,   // QDoubleSpinBox: double
    Flag,   // QCheckBox: bool
    Choice  // two radio buttons in a group box: the option's word
};

// Every key, its input and its label. Everything else about an option (range, default,
// words, environment names, where it goes in ServerConfig) comes from the option table
// (config/options.h).
struct KeyInfo
{
    const char *key;
    Kind kind;
    const char *field;
    const char *label; // a QLabel, or the QGroupBox/QCheckBox that names the field
};

const KeyInfo keyTable[] = {
    {"host", Kind::Text, "hostEdit", "hostLabel"},
    {"port", Kind::Number, "portSpin", "portLabel"},
    {"start-at-launch", Kind::Flag, "startAtLaunchCheck", "startAtLaunchCheck"},
    {"merge-mode", Kind::Choice, "mergeBox", "mergeBox"},
    {"durability", Kind::Choice, "durabilityBox", "durabilityBox"},
    {"db", Kind::Text, "dbEdit", "dbLabel"},
    {"max-body", Kind::Number, "maxBodySpin", "maxBodyLabel"},
    {"max-agent-id", Kind::Number, "maxAgentIdSpin", "maxAgentIdLabel"},
    {"max-topics", Kind::Number, "maxTopicsSpin", "maxTopicsLabel"},
    {"max-topic-length", Kind::Number, "maxTopicLengthSpin", "maxTopicLengthLabel"},
    {"max-facts", Kind::Number, "maxFactsSpin", "maxFactsLabel"},
    {"max-fact-length", Kind::Number, "maxFactLengthSpin", "maxFactLengthLabel"},
    {"max-metadata", Kind::Number, "maxMetadataSpin", "maxMetadataLabel"},
    {"max-connections", Kind::Number, "maxConnectionsSpin", "maxConnectionsLabel"},
    {"idle-timeout", Kind::Number, "idleTimeoutSpin", "idleTimeoutLabel"},
    {"read-timeout", Kind::Number, "readTimeoutSpin", "readTimeoutLabel"},
    {"max-head", Kind::Number, "maxHeadSpin", "maxHeadLabel"},
    {"rate-limit", Kind::Real, "rateLimitSpin", "rateLimitLabel"},
    {"tls-cert", Kind::Text, "certEdit", "certLabel"},
    {"tls-key", Kind::Text, "keyEdit", "keyLabel"},
};

const KeyInfo *info(const QString &key)
{
    for (const KeyInfo &k : keyTable) {
        if (key == QLatin1String(k.key))
            return &k;
    }
    return nullptr;
}

// A server key's value in `config`, as SettingsDialog::value() gives it.
QVariant configValue(const ServerConfig &config, const QString &key)
{
    const OptionDef *option = findOption(key);
    if (!option || !option->isServer())
        return {};
    AppOptions options;
    options.server = config;
    return option->get(options);
}

void setConfigValue(ServerConfig *config, const QString &key, const QVariant &value)
{
    const OptionDef *option = findOption(key);
    if (!option || !option->isServer())
        return;
    AppOptions options;
    options.server = *config;
    option->set(options, value);
    *config = options.server;
}

// The explanation under each radio button is its accessible description too.
void describeChoices(Ui::SettingsDialog *ui)
{
    ui->latestRadio->setAccessibleDescription(ui->latestHint->text());
    ui->cumulativeRadio->setAccessibleDescription(ui->cumulativeHint->text());
    ui->fullRadio->setAccessibleDescription(ui->fullHint->text());
    ui->normalRadio->setAccessibleDescription(ui->normalHint->text());
    ui->startAtLaunchCheck->setAccessibleDescription(ui->startAtLaunchNote->text());
}

QString nativePath(const QString &path)
{
    return QDir::toNativeSeparators(path);
}

} // namespace

// Restore defaults gets a mnemonic (Qt's standard text has none).
void SettingsDialog::retranslateButtons()
{
    m_ui->buttonBox->button(QDialogButtonBox::RestoreDefaults)->setText(tr("Restore &defaults"));
}

SettingsDialog::SettingsDialog(QWidget *parent)
    : QDialog(parent)
    , m_ui(std::make_unique<Ui::SettingsDialog>())
    , m_arguments(QCoreApplication::arguments())
    , m_environment(QProcessEnvironment::systemEnvironment())
{
    m_ui->setupUi(this);
    m_ui->overrideNote->hide();
    describeChoices(m_ui.get());
    retranslateButtons();

    // Ranges from the option table; the byte count of max-body passes what a QSpinBox holds.
    for (const KeyInfo &k : keyTable) {
        const OptionDef *option = findOption(QString::fromLatin1(k.key));
        if (!option)
            continue;
        if (auto *spin = findChild<QSpinBox *>(QLatin1String(k.field)))
            spin->setRange(int(option->min), int(option->max));
        else if (auto *real = findChild<QDoubleSpinBox *>(QLatin1String(k.field)))
            real->setRange(double(option->min), double(option->max));
    }
    m_ui->maxBodySpin->setSingleStep(1024 * 1024);
    m_ui->maxMetadataSpin->setSingleStep(1024);
    m_ui->maxHeadSpin->setSingleStep(1024);
    m_ui->rateLimitSpin->setSingleStep(10);
    // Room for an IPv6 address; the port lines up with it.
    const int hostWidth =
        m_ui->hostEdit->fontMetrics().horizontalAdvance(QStringLiteral("ffff:ffff:ffff:ffff:ff")) +
        32;
    m_ui->hostEdit->setMinimumWidth(hostWidth);
    m_ui->portSpin->setMinimumWidth(hostWidth);

    // The explanation under the check box lines up with its text.
    m_ui->startAtLaunchNote->setIndent(style()->pixelMetric(QStyle::PM_IndicatorWidth) +
                                       style()->pixelMetric(QStyle::PM_CheckBoxLabelSpacing));
    m_ui->overrideNote->setStyleSheet(
        QStringLiteral("QLabel { background: palette(alternate-base); padding: 6px;"
                       " border: 1px solid palette(mid); border-radius: 4px; }"));

    for (QLineEdit *edit : findChildren<QLineEdit *>()) {
        // The spin boxes' own line edits report through the spin boxes.
        if (qobject_cast<QAbstractSpinBox *>(edit->parentWidget()))
            continue;
        connect(edit, &QLineEdit::textChanged, this, &SettingsDialog::validate);
    }
    for (QSpinBox *spin : findChildren<QSpinBox *>())
        connect(spin, &QSpinBox::valueChanged, this, &SettingsDialog::updateButtons);
    for (QDoubleSpinBox *spin : findChildren<QDoubleSpinBox *>())
        connect(spin, &QDoubleSpinBox::valueChanged, this, &SettingsDialog::updateButtons);
    for (QAbstractButton *button : findChildren<QAbstractButton *>()) {
        if (qobject_cast<QRadioButton *>(button) || qobject_cast<QCheckBox *>(button))
            connect(button, &QAbstractButton::toggled, this, &SettingsDialog::updateButtons);
    }
    connect(m_ui->dbBrowseButton, &QPushButton::clicked, this, &SettingsDialog::browseDatabase);
    connect(m_ui->certBrowseButton, &QPushButton::clicked, this,
            [this] { browseFile(m_ui->certEdit, tr("TLS certificate")); });
    connect(m_ui->keyBrowseButton, &QPushButton::clicked, this,
            [this] { browseFile(m_ui->keyEdit, tr("TLS private key")); });
    connect(m_ui->buttonBox, &QDialogButtonBox::accepted, this, &SettingsDialog::accept);
    connect(m_ui->buttonBox, &QDialogButtonBox::rejected, this, &SettingsDialog::reject);
    connect(m_ui->buttonBox->button(QDialogButtonBox::Apply), &QPushButton::clicked, this,
            [this] { apply(); });
    connect(m_ui->buttonBox->button(QDialogButtonBox::RestoreDefaults), &QPushButton::clicked, this,
            &SettingsDialog::restoreDefaults);

    load();
}

SettingsDialog::~SettingsDialog() = default;

QStringList SettingsDialog::keys()
{
    QStringList out;
    for (const KeyInfo &k : keyTable)
        out.append(QLatin1String(k.key));
    return out;
}

QVariant SettingsDialog::defaultValue(const QString &key)
{
    if (key == StartAtLaunchKey)
        return true;
    const OptionDef *option = findOption(key);
    return option ? option->defaultValue() : QVariant();
}

bool SettingsDialog::isServerKey(const QString &key)
{
    const OptionDef *option = findOption(key);
    return info(key) && option && option->isServer();
}

QWidget *SettingsDialog::field(const QString &key) const
{
    const KeyInfo *k = info(key);
    return k ? findChild<QWidget *>(QLatin1String(k->field)) : nullptr;
}

QVariant SettingsDialog::value(const QString &key) const
{
    const KeyInfo *k = info(key);
    if (!k)
        return {};
    if (key == u"host") {
        QHostAddress address;
        const QString text = m_ui->hostEdit->text().trimmed();
        return parseListenAddress(text, &address) ? listenAddressText(address) : text;
    }
    if (key == u"db") {
        const QString text = m_ui->dbEdit->text().trimmed();
        QString error;
        const auto url = StoreUrl::parse(text, &error);
        // A SQLite file is saved as its absolute path: a relative one would depend on the
        // folder the app is started from.
        if (!text.isEmpty() && url && url->kind == StoreUrl::Kind::SqliteFile)
            return url->path;
        return text;
    }
    if (key == u"merge-mode")
        return m_ui->cumulativeRadio->isChecked() ? QStringLiteral("cumulative")
                                                  : QStringLiteral("latest");
    if (key == u"durability")
        return m_ui->normalRadio->isChecked() ? QStringLiteral("normal") : QStringLiteral("full");
    QWidget *widget = field(key);
    switch (k->kind) {
    case Kind::Text:
        return static_cast<QLineEdit *>(widget)->text().trimmed();
    case Kind::Flag:
        return static_cast<QCheckBox *>(widget)->isChecked();
    case Kind::Real:
        return static_cast<QDoubleSpinBox *>(widget)->value();
    case Kind::Number:
        if (auto *spin = qobject_cast<QSpinBox *>(widget))
            return qlonglong(spin->value());
        return qlonglong(std::llround(static_cast<QDoubleSpinBox *>(widget)->value()));
    case Kind::Choice:
        break;
    }
    return {};
}

QVariantMap SettingsDialog::values() const
{
    QVariantMap out;
    for (const QString &key : keys())
        out.insert(key, value(key));
    return out;
}

void SettingsDialog::setValue(const QString &key, const QVariant &value)
{
    const KeyInfo *k = info(key);
    if (!k)
        return;
    const QString text = value.toString().trimmed();
    QWidget *widget = field(key);
    const auto invalid = [&] {
        qWarning("settings: ignoring the saved %s \"%s\"", k->key, qPrintable(text.left(40)));
        setValue(key, defaultValue(key));
    };
    switch (k->kind) {
    case Kind::Text:
        static_cast<QLineEdit *>(widget)->setText(text);
        return;
    case Kind::Flag:
        static_cast<QCheckBox *>(widget)->setChecked(value.toBool());
        return;
    case Kind::Choice:
    case Kind::Number:
    case Kind::Real:
        break;
    }
    // Checked as a launch checks it (the option table): words, ranges.
    const OptionDef *option = findOption(key);
    QString error;
    const std::optional<QVariant> checked = option ? option->convert(value, &error) : std::nullopt;
    if (!checked)
        return invalid();
    if (k->kind == Kind::Choice) {
        // The first word is the first radio button of the group.
        const bool first = checked->toString() == option->words.value(0);
        if (key == u"merge-mode")
            (first ? m_ui->latestRadio : m_ui->cumulativeRadio)->setChecked(true);
        else
            (first ? m_ui->fullRadio : m_ui->normalRadio)->setChecked(true);
    } else if (auto *spin = qobject_cast<QSpinBox *>(widget)) {
        spin->setValue(int(checked->toLongLong()));
    } else {
        static_cast<QDoubleSpinBox *>(widget)->setValue(checked->toDouble());
    }
}

void SettingsDialog::load()
{
    const QSettings settings;
    for (const QString &key : keys())
        setValue(key, settings.contains(key) ? settings.value(key) : defaultValue(key));
    m_saved = values();
    validate();
    updateOverrides();
}

void SettingsDialog::restoreDefaults()
{
    for (const QString &key : keys())
        setValue(key, defaultValue(key));
    validate();
}

bool SettingsDialog::isValid() const
{
    return m_valid;
}

bool SettingsDialog::isModified() const
{
    return values() != m_saved;
}

bool SettingsDialog::apply(QStringList *changed)
{
    validate();
    if (!m_valid)
        return false;
    const QVariantMap now = values();
    QStringList diff;
    {
        QSettings settings;
        for (const QString &key : keys()) {
            const QVariant v = now.value(key);
            if (v == defaultValue(key))
                settings.remove(key);
            else
                settings.setValue(key, v);
            if (v != m_saved.value(key))
                diff.append(key);
        }
        settings.sync();
        if (settings.status() != QSettings::NoError) {
            QMessageBox::warning(
                this, tr("Settings"),
                tr("The settings could not be saved to %1.").arg(nativePath(settings.fileName())));
            return false;
        }
    }
    m_saved = now;
    // The fields show what was saved (e.g. "localhost" as 127.0.0.1, an absolute path).
    for (const QString &key : keys())
        setValue(key, now.value(key));
    validate();
    if (changed)
        *changed = diff;
    if (!diff.isEmpty())
        emit applied(diff);
    return true;
}

void SettingsDialog::accept()
{
    QStringList changed;
    {
        // applied() is emitted once the dialog is closed, so that what follows (MainWindow
        // asking whether to restart the server) is not hidden behind it.
        const QSignalBlocker blocker(this);
        if (!apply(&changed))
            return;
    }
    QDialog::accept();
    if (!changed.isEmpty())
        emit applied(changed);
}

void SettingsDialog::showStatus(QLabel *label, const QString &text, bool error)
{
    label->setText(text);
    label->setStyleSheet(error ? QStringLiteral("QLabel { color: #c5221f; }") : QString());
    label->setVisible(!text.isEmpty());
}

void SettingsDialog::validate()
{
    bool valid = true;

    // Host
    {
        QHostAddress address;
        const QString text = m_ui->hostEdit->text().trimmed();
        QString status;
        bool error = false;
        if (text.isEmpty()) {
            status = tr("Enter an address: 127.0.0.1 for this computer only, 0.0.0.0 for every "
                        "network interface.");
            error = true;
        } else if (!parseListenAddress(text, &address)) {
            status = tr("\"%1\" is not an IP address (use 127.0.0.1 for this computer only, "
                        "0.0.0.0 for every network interface).")
                         .arg(text.left(80));
            error = true;
        } else if (address.isLoopback()) {
            status = tr("Only this computer can connect.");
        } else if (address == QHostAddress::Any || address == QHostAddress::AnyIPv6) {
            status = tr("Every network interface: other machines can reach the coordinator. "
                        "Create an API key for them.");
        } else {
            status = tr("Only connections to %1 are accepted.").arg(address.toString());
        }
        showStatus(m_ui->hostStatus, status, error);
        m_ui->hostEdit->setAccessibleDescription(error ? status : QString());
        valid = valid && !error;
    }

    // Database
    {
        const QString text = m_ui->dbEdit->text().trimmed();
        QString error;
        const auto url = StoreUrl::parse(text, &error);
        QString status;
        if (!url) {
            status = tr("Not a database location: %1").arg(error);
        } else {
            switch (url->kind) {
            case StoreUrl::Kind::SqliteFile:
                status = text.isEmpty()
                             ? tr("Default: the SQLite file %1").arg(nativePath(url->path))
                             : tr("SQLite file %1").arg(nativePath(url->path));
                break;
            case StoreUrl::Kind::SqliteMemory:
                status = tr("In memory: everything is lost when the app quits.");
                break;
            case StoreUrl::Kind::PostgreSql:
                status = tr("PostgreSQL database \"%1\" on %2, port %3.")
                             .arg(url->database,
                                  url->host.isEmpty() ? QStringLiteral("localhost") : url->host)
                             .arg(url->port);
                if (!url->password.isEmpty())
                    status += u' ' + tr("The password is saved as plain text in the settings "
                                        "file (~/.pgpass keeps it out).");
                break;
            }
        }
        showStatus(m_ui->dbStatus, status, !url);
        m_ui->dbEdit->setAccessibleDescription(url ? QString() : status);
        valid = valid && url.has_value();
    }

    // TLS
    {
        QString summary;
        const QString error = tlsError(&summary);
        showStatus(m_ui->tlsStatus, error.isEmpty() ? summary : error, !error.isEmpty());
        for (QLineEdit *edit : {m_ui->certEdit, m_ui->keyEdit})
            edit->setAccessibleDescription(error);
        valid = valid && error.isEmpty();
    }

    m_valid = valid;
    updateButtons();
}

QString SettingsDialog::tlsError(QString *summary) const
{
    const QString cert = m_ui->certEdit->text().trimmed();
    const QString key = m_ui->keyEdit->text().trimmed();
    if (cert.isEmpty() && key.isEmpty()) {
        *summary = tr("No TLS: the server speaks plain HTTP.");
        return {};
    }
    if (cert.isEmpty() || key.isEmpty())
        return tr("Choose both a certificate and its private key, or neither.");
    for (const QString &file : {cert, key}) {
        if (!QFileInfo(file).isFile())
            return tr("The file %1 does not exist.").arg(nativePath(file));
    }
    if (!QSslSocket::supportsSsl())
        return tr("TLS is not available on this system (%1).")
            .arg(QSslSocket::sslLibraryBuildVersionString());
    const TlsFiles files = readTlsFiles(cert, key);
    switch (files.problem) {
    case TlsFiles::Problem::None:
        break;
    case TlsFiles::Problem::CannotReadCertificate:
        return tr("Cannot read %1: %2").arg(nativePath(cert), files.fileError);
    case TlsFiles::Problem::NoCertificate:
        return tr("%1 holds no PEM certificate.").arg(nativePath(cert));
    case TlsFiles::Problem::CannotReadKey:
        return tr("Cannot read %1: %2").arg(nativePath(key), files.fileError);
    case TlsFiles::Problem::NoKey:
        return tr("%1 holds no unencrypted PEM private key.").arg(nativePath(key));
    case TlsFiles::Problem::KeyMismatch:
        return tr("%1 does not belong to the certificate %2 (%3).")
            .arg(nativePath(key), nativePath(cert), files.fileError);
    }
    const QSslCertificate &first = files.chain.first();
    QString name = first.subjectInfo(QSslCertificate::CommonName).join(QStringLiteral(", "));
    if (name.isEmpty())
        name = first.subjectDisplayName();
    const QDateTime expiry = first.expiryDate();
    *summary =
        tr("HTTPS with the certificate for %1, valid until %2.")
            .arg(name, QLocale().toString(expiry.toLocalTime().date(), QLocale::ShortFormat));
    if (expiry < QDateTime::currentDateTimeUtc())
        *summary += u' ' + tr("It has expired: clients will refuse it.");
    return {};
}

QString SettingsDialog::fieldName(const QString &key) const
{
    const KeyInfo *k = info(key);
    if (!k)
        return key;
    QString text;
    QObject *label = findChild<QObject *>(QLatin1String(k->label));
    if (auto *l = qobject_cast<QLabel *>(label))
        text = l->text();
    else if (auto *box = qobject_cast<QGroupBox *>(label))
        text = box->title();
    else if (auto *button = qobject_cast<QAbstractButton *>(label))
        text = button->text();
    text.remove(u'&');
    if (text.endsWith(u':'))
        text.chop(1);
    return text.trimmed();
}

QString SettingsDialog::overriddenBy(const QString &key) const
{
    if (!isServerKey(key) && key != u"db")
        return {};
    // The option table answers, as the launch read the command line and environment.
    return optionOverriddenBy(key, m_arguments, m_environment);
}

void SettingsDialog::setRunContext(const QStringList &arguments,
                                   const QProcessEnvironment &environment)
{
    m_arguments = arguments;
    m_environment = environment;
    updateOverrides();
}

void SettingsDialog::updateOverrides()
{
    QStringList items;
    for (const QString &key : keys()) {
        QWidget *widget = field(key);
        if (!widget->property("agmemToolTip").isValid())
            widget->setProperty("agmemToolTip", widget->toolTip());
        const QString base = widget->property("agmemToolTip").toString();
        const QString source = overriddenBy(key);
        if (source.isEmpty()) {
            widget->setToolTip(base);
            continue;
        }
        items.append(tr("%1 (%2)").arg(fieldName(key), source));
        const QString note =
            tr("For this run, %1 sets this; the value saved here is used at a launch without it.")
                .arg(source);
        widget->setToolTip(base.isEmpty() ? note : base + u'\n' + note);
    }
    m_ui->overrideNote->setText(
        items.isEmpty() ? QString()
                        : tr("Set by the command line or the environment for this run, so the "
                             "saved value is not used now: %1. What you save here applies at a "
                             "launch without them.")
                              .arg(items.join(QStringLiteral(", "))));
    m_ui->overrideNote->setVisible(!items.isEmpty());
}

void SettingsDialog::updateButtons()
{
    m_ui->buttonBox->button(QDialogButtonBox::Ok)->setEnabled(m_valid);
    m_ui->buttonBox->button(QDialogButtonBox::Apply)->setEnabled(m_valid && isModified());
}

QStringList SettingsDialog::applyTo(ServerConfig *config, const QStringList &keys) const
{
    QStringList out;
    for (const QString &key : keys) {
        if (!isServerKey(key) || !overriddenBy(key).isEmpty())
            continue;
        const QVariant v = value(key);
        if (configValue(*config, key) == v)
            continue;
        setConfigValue(config, key, v);
        out.append(key);
    }
    return out;
}

void SettingsDialog::browseDatabase()
{
    QString start = value(QStringLiteral("db")).toString();
    QString error;
    const auto url = StoreUrl::parse(start, &error);
    if (!url || url->kind != StoreUrl::Kind::SqliteFile)
        start = StoreUrl::defaultLocation().path;
    else
        start = url->path;
    const QString file = QFileDialog::getSaveFileName(
        this, tr("Database file"), start,
        tr("SQLite databases (*.db *.sqlite *.sqlite3);;All files (*)"), nullptr,
        QFileDialog::DontConfirmOverwrite);
    if (!file.isEmpty())
        m_ui->dbEdit->setText(nativePath(file));
}

void SettingsDialog::browseFile(QWidget *edit, const QString &title)
{
    auto *line = static_cast<QLineEdit *>(edit);
    const QString current = line->text().trimmed();
    const QString file = QFileDialog::getOpenFileName(
        this, title, current.isEmpty() ? QDir::homePath() : QFileInfo(current).absolutePath(),
        tr("PEM files (*.pem *.crt *.cer *.key);;All files (*)"));
    if (!file.isEmpty())
        line->setText(nativePath(file));
}

void SettingsDialog::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::LanguageChange) {
        m_ui->retranslateUi(this);
        describeChoices(m_ui.get());
        retranslateButtons();
        for (QWidget *widget : findChildren<QWidget *>())
            widget->setProperty("agmemToolTip", QVariant());
        validate();
        updateOverrides();
    }
    QDialog::changeEvent(event);
}

} // namespace agmem
