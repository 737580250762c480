// The Settings dialog: what it saves under the option names is what the next launch reads
// (options.cpp), invalid input saves nothing, Restore defaults removes the keys, overrides
// for this run are shown, and the window restarts the server with new values when asked.
// Never touches the person's settings: QSettings lives in a temporary folder (main()).
#include "ciskip.h"
#include "config/options.h"
#include "gui/mainwindow.h"
#include "gui/settingsdialog.h"
#include "testtls.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QRadioButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace agmem;
using namespace Qt::StringLiterals;

namespace {

// A port nobody listens on right now.
quint16 freePort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    return probe.serverPort();
}

bool listening(quint16 port)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    return socket.waitForConnected(1000);
}

int pushStatus(quint16 port, const QByteArray &body)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(5000))
        return 0;
    socket.write("POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 "Content-Type: application/json\r\nContent-Length: " +
                 QByteArray::number(body.size()) + "\r\n\r\n" + body);
    QByteArray answer;
    while (socket.state() == QAbstractSocket::ConnectedState && socket.waitForReadyRead(5000))
        answer += socket.readAll();
    answer += socket.readAll();
    const qsizetype space = answer.indexOf(' ');
    return space > 0 ? answer.mid(space + 1, 3).toInt() : 0;
}

AppOptions resolve(const QStringList &flags = {})
{
    const QSettings settings;
    return parseOptions(QStringList{u"agmem-coordinator"_s} + flags, &settings);
}

// Keys the dialog owns that QSettings holds now.
QStringList storedKeys()
{
    QStringList out;
    const QSettings settings;
    for (const QString &key : SettingsDialog::keys()) {
        if (settings.contains(key))
            out.append(key);
    }
    return out;
}

QChar mnemonic(const QString &text)
{
    for (qsizetype i = 0; i + 1 < text.size(); ++i) {
        if (text.at(i) != u'&')
            continue;
        if (text.at(i + 1) == u'&') {
            ++i;
            continue;
        }
        return text.at(i + 1).toLower();
    }
    return {};
}

} // namespace

class TstSettings : public QObject
{
    Q_OBJECT

public:
    explicit TstSettings(QString settingsPath)
        : m_settingsPath(std::move(settingsPath))
    {}

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void defaultsAreWhatOptionsResolve();
    void settingsPersist();
    void restoreDefaultsRemovesKeys();
    void invalidInputSavesNothing_data();
    void invalidInputSavesNothing();
    void tlsFilesThatLoad();
    void overridesForThisRunAreShown();
    void accessibleNamesBuddiesTabOrder();
    void windowRestartsServerWithNewPort();
    void startAtLaunchFalseIsHonored();

private:
    static QString certFile() { return agmem::test::testTlsCertificate(); }
    static QString keyFile() { return agmem::test::testTlsKey(); }
    template <typename T>
    static T *field(const SettingsDialog &dialog, const char *key)
    {
        auto *widget = qobject_cast<T *>(dialog.field(QLatin1String(key)));
        Q_ASSERT(widget);
        return widget;
    }
    template <typename T>
    static T *child(const QObject &parent, const char *name)
    {
        auto *widget = parent.findChild<T *>(QLatin1String(name));
        Q_ASSERT(widget);
        return widget;
    }
    static QPushButton *button(const SettingsDialog &dialog, QDialogButtonBox::StandardButton b)
    {
        return child<QDialogButtonBox>(dialog, "buttonBox")->button(b);
    }

    QString m_settingsPath;
    std::unique_ptr<QTemporaryDir> m_dir;
};

void TstSettings::initTestCase()
{
    // main() pointed QSettings at a temporary folder before anything used it.
    const QSettings settings;
    QVERIFY2(settings.fileName().startsWith(m_settingsPath), qPrintable(settings.fileName()));
}

void TstSettings::init()
{
    QSettings().clear();
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TstSettings::cleanup()
{
    QSettings().clear();
    m_dir.reset();
}

// With nothing saved the dialog shows the defaults, which are exactly what a launch without
// flags resolves; OK works and Apply has nothing to do.
void TstSettings::defaultsAreWhatOptionsResolve()
{
    SettingsDialog dialog;
    for (const QString &key : SettingsDialog::keys())
        QCOMPARE(dialog.value(key), SettingsDialog::defaultValue(key));
    QVERIFY(dialog.isValid());
    QVERIFY(!dialog.isModified());
    QVERIFY(button(dialog, QDialogButtonBox::Ok)->isEnabled());
    QVERIFY(!button(dialog, QDialogButtonBox::Apply)->isEnabled());

    const AppOptions options = resolve();
    QCOMPARE(options.outcome, AppOptions::Outcome::Run);
    ServerConfig config = options.server;
    QCOMPARE(dialog.applyTo(&config, SettingsDialog::keys()), QStringList());
    QCOMPARE(options.server.limits.maxBodyBytes, SummaryLimits().maxBodyBytes);
    QVERIFY(child<QCheckBox>(dialog, "startAtLaunchCheck")->isChecked());
    QVERIFY(child<QLabel>(dialog, "dbStatus")->text().contains(u"Default"));

    // Applying the defaults stores nothing.
    QStringList changed;
    QVERIFY(dialog.apply(&changed));
    QCOMPARE(changed, QStringList());
    QCOMPARE(storedKeys(), QStringList());
}

// Every field set, applied: QSettings holds the option names, a new dialog shows the same
// values, and options.cpp resolves exactly them.
void TstSettings::settingsPersist()
{
    const QString db = m_dir->filePath(u"chosen.db"_s);
    {
        SettingsDialog dialog;
        QSignalSpy applied(&dialog, &SettingsDialog::applied);
        field<QLineEdit>(dialog, "host")->setText(u"any"_s);
        field<QSpinBox>(dialog, "port")->setValue(9123);
        field<QCheckBox>(dialog, "start-at-launch")->setChecked(false);
        child<QRadioButton>(dialog, "cumulativeRadio")->click();
        child<QRadioButton>(dialog, "normalRadio")->click();
        field<QLineEdit>(dialog, "db")->setText(db);
        field<QDoubleSpinBox>(dialog, "max-body")->setValue(2 * 1024 * 1024);
        field<QSpinBox>(dialog, "max-agent-id")->setValue(64);
        field<QSpinBox>(dialog, "max-topics")->setValue(50);
        field<QSpinBox>(dialog, "max-topic-length")->setValue(40);
        field<QSpinBox>(dialog, "max-facts")->setValue(500);
        field<QSpinBox>(dialog, "max-fact-length")->setValue(70);
        field<QSpinBox>(dialog, "max-metadata")->setValue(4096);
        field<QSpinBox>(dialog, "max-connections")->setValue(33);
        field<QSpinBox>(dialog, "idle-timeout")->setValue(7);
        field<QSpinBox>(dialog, "read-timeout")->setValue(9);
        field<QSpinBox>(dialog, "max-head")->setValue(8192);
        field<QDoubleSpinBox>(dialog, "rate-limit")->setValue(12.5);
        QVERIFY(dialog.isValid());
        QVERIFY(dialog.isModified());
        QVERIFY(button(dialog, QDialogButtonBox::Apply)->isEnabled());
        QCOMPARE(storedKeys(), QStringList()); // nothing before OK or Apply

        button(dialog, QDialogButtonBox::Apply)->click();
        QCOMPARE(applied.size(), 1);
        QStringList expected = SettingsDialog::keys();
        expected.removeAll(u"tls-cert"_s);
        expected.removeAll(u"tls-key"_s);
        QCOMPARE(applied.first().first().toStringList(), expected);
        QVERIFY(!button(dialog, QDialogButtonBox::Apply)->isEnabled());
        // "any" is saved as the address it means.
        QCOMPARE(field<QLineEdit>(dialog, "host")->text(), u"0.0.0.0"_s);
    }
    const QSettings settings;
    QCOMPARE(settings.value(u"host"_s).toString(), u"0.0.0.0"_s);
    QCOMPARE(settings.value(u"port"_s).toInt(), 9123);
    QCOMPARE(settings.value(u"start-at-launch"_s).toBool(), false);
    QCOMPARE(settings.value(u"merge-mode"_s).toString(), u"cumulative"_s);
    QCOMPARE(settings.value(u"durability"_s).toString(), u"normal"_s);
    QCOMPARE(settings.value(u"db"_s).toString(), db);
    QCOMPARE(settings.value(u"max-body"_s).toLongLong(), 2 * 1024 * 1024);
    QCOMPARE(settings.value(u"idle-timeout"_s).toInt(), 7);
    QCOMPARE(settings.value(u"rate-limit"_s).toDouble(), 12.5);
    QVERIFY(!settings.contains(u"startAtLaunch"_s));
    QVERIFY(!settings.contains(u"tls-cert"_s)); // default (none): not stored

    SettingsDialog again;
    QVERIFY(!again.isModified());
    QCOMPARE(field<QSpinBox>(again, "port")->value(), 9123);
    QVERIFY(!field<QCheckBox>(again, "start-at-launch")->isChecked());
    QVERIFY(child<QRadioButton>(again, "cumulativeRadio")->isChecked());
    QVERIFY(child<QRadioButton>(again, "normalRadio")->isChecked());
    QCOMPARE(field<QLineEdit>(again, "db")->text(), db);
    QCOMPARE(field<QDoubleSpinBox>(again, "rate-limit")->value(), 12.5);
    QCOMPARE(field<QSpinBox>(again, "max-head")->value(), 8192);

    // What the next launch resolves: every value of the dialog.
    const AppOptions options = resolve();
    QCOMPARE(options.outcome, AppOptions::Outcome::Run);
    const ServerConfig &c = options.server;
    QCOMPARE(c.host, QHostAddress(QHostAddress::Any));
    QCOMPARE(c.port, quint16(9123));
    QCOMPARE(c.mergeMode, MergeMode::Cumulative);
    QCOMPARE(c.storeOptions.durability, Durability::Normal);
    QCOMPARE(c.store.kind, StoreUrl::Kind::SqliteFile);
    QCOMPARE(c.store.path, db);
    QCOMPARE(c.limits.maxBodyBytes, 2 * 1024 * 1024);
    QCOMPARE(c.limits.maxAgentIdLength, 64);
    QCOMPARE(c.limits.maxTopics, 50);
    QCOMPARE(c.limits.maxTopicLength, 40);
    QCOMPARE(c.limits.maxFacts, 500);
    QCOMPARE(c.limits.maxFactLength, 70);
    QCOMPARE(c.limits.maxMetadataBytes, 4096);
    QCOMPARE(c.connection.maxConnections, 33);
    QCOMPARE(c.connection.idleTimeoutMs, 7000);
    QCOMPARE(c.connection.readTimeoutMs, 9000);
    QCOMPARE(c.connection.maxHeadBytes, 8192);
    QCOMPARE(c.access.rateLimit, 12.5);
    ServerConfig copy = c;
    QCOMPARE(again.applyTo(&copy, SettingsDialog::keys()), QStringList());
    // A flag still wins over the saved value.
    QCOMPARE(resolve({u"--port"_s, u"9200"_s}).server.port, quint16(9200));

    // The bounds of every number field are the ones options.cpp accepts.
    for (const QString &key : SettingsDialog::keys()) {
        QWidget *widget = again.field(key);
        double min = 0;
        double max = 0;
        if (auto *spin = qobject_cast<QSpinBox *>(widget)) {
            min = spin->minimum();
            max = spin->maximum();
        } else if (auto *spin = qobject_cast<QDoubleSpinBox *>(widget)) {
            min = spin->minimum();
            max = spin->maximum();
        } else {
            continue;
        }
        const auto text = [](double v) { return QString::number(qint64(v)); };
        QVERIFY2(resolve({u"--"_s + key, text(min)}).outcome == AppOptions::Outcome::Run,
                 qPrintable(key));
        QVERIFY2(resolve({u"--"_s + key, text(max)}).outcome == AppOptions::Outcome::Run,
                 qPrintable(key));
        QVERIFY2(resolve({u"--"_s + key, text(max + 1)}).outcome != AppOptions::Outcome::Run,
                 qPrintable(key));
        if (min > 0)
            QVERIFY2(resolve({u"--"_s + key, text(min - 1)}).outcome != AppOptions::Outcome::Run,
                     qPrintable(key));
    }
}

// Restore defaults changes the fields only; OK then removes every key.
void TstSettings::restoreDefaultsRemovesKeys()
{
    {
        SettingsDialog dialog;
        field<QSpinBox>(dialog, "port")->setValue(9001);
        field<QSpinBox>(dialog, "max-topics")->setValue(3);
        field<QCheckBox>(dialog, "start-at-launch")->setChecked(false);
        child<QRadioButton>(dialog, "cumulativeRadio")->click();
        QVERIFY(dialog.apply());
    }
    QCOMPARE(storedKeys(),
             (QStringList{u"port"_s, u"start-at-launch"_s, u"merge-mode"_s, u"max-topics"_s}));

    SettingsDialog dialog;
    dialog.show();
    button(dialog, QDialogButtonBox::RestoreDefaults)->click();
    for (const QString &key : SettingsDialog::keys())
        QCOMPARE(dialog.value(key), SettingsDialog::defaultValue(key));
    QVERIFY(child<QRadioButton>(dialog, "latestRadio")->isChecked());
    QVERIFY(field<QCheckBox>(dialog, "start-at-launch")->isChecked());
    QCOMPARE(storedKeys().size(), 4); // not yet saved
    QSignalSpy applied(&dialog, &SettingsDialog::applied);
    button(dialog, QDialogButtonBox::Ok)->click();
    QVERIFY(!dialog.isVisible());
    QCOMPARE(dialog.result(), int(QDialog::Accepted));
    QCOMPARE(storedKeys(), QStringList());
    QCOMPARE(applied.size(), 1);
    QCOMPARE(applied.first().first().toStringList(),
             (QStringList{u"port"_s, u"start-at-launch"_s, u"merge-mode"_s, u"max-topics"_s}));
    QCOMPARE(resolve().server.port, quint16(8000));
}

void TstSettings::invalidInputSavesNothing_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("text");  // "CERT": the real certificate; "MISSING": no file
    QTest::addColumn<QString>("other"); // the other TLS file, likewise
    QTest::addColumn<QString>("status");
    QTest::addColumn<QString>("message");
    QTest::addRow("bad host") << u"host"_s << u"not-an-address"_s << QString() << u"hostStatus"_s
                              << u"not an IP address"_s;
    QTest::addRow("empty host") << u"host"_s << u" "_s << QString() << u"hostStatus"_s
                                << u"Enter an address"_s;
    QTest::addRow("unsupported db") << u"db"_s << u"mysql://u@h/x"_s << QString() << u"dbStatus"_s
                                    << u"unsupported database URL"_s;
    QTest::addRow("db without name") << u"db"_s << u"postgresql://u:p@h:5432/"_s << QString()
                                     << u"dbStatus"_s << u"names no database"_s;
    QTest::addRow("sqlite url without file")
        << u"db"_s << u"sqlite://"_s << QString() << u"dbStatus"_s << u"names no file"_s;
    QTest::addRow("certificate only")
        << u"tls-cert"_s << u"CERT"_s << QString() << u"tlsStatus"_s << u"both"_s;
    QTest::addRow("key only") << u"tls-key"_s << u"KEY"_s << QString() << u"tlsStatus"_s
                              << u"both"_s;
    QTest::addRow("missing certificate")
        << u"tls-cert"_s << u"MISSING"_s << u"KEY"_s << u"tlsStatus"_s << u"does not exist"_s;
    QTest::addRow("missing key") << u"tls-key"_s << u"MISSING"_s << u"CERT"_s << u"tlsStatus"_s
                                 << u"does not exist"_s;
    QTest::addRow("key is no certificate")
        << u"tls-cert"_s << u"KEY"_s << u"KEY"_s << u"tlsStatus"_s << u"no PEM certificate"_s;
    QTest::addRow("certificate is no key") << u"tls-key"_s << u"CERT"_s << u"CERT"_s
                                           << u"tlsStatus"_s << u"no unencrypted PEM private key"_s;
}

// An invalid field: OK and Apply are disabled, the reason is shown next to it, apply()
// refuses and nothing at all is written, not even the valid fields.
void TstSettings::invalidInputSavesNothing()
{
    QFETCH(QString, key);
    QFETCH(QString, text);
    QFETCH(QString, other);
    QFETCH(QString, status);
    QFETCH(QString, message);
    const bool tls = key.startsWith(u"tls-");
    const auto file = [this](const QString &what) {
        if (what == u"CERT")
            return certFile();
        if (what == u"KEY")
            return keyFile();
        if (what == u"MISSING")
            return m_dir->filePath(u"missing.pem"_s);
        return what;
    };

    SettingsDialog dialog;
    dialog.show();
    auto *tabs = child<QTabWidget>(dialog, "tabs");
    for (int i = 0; i < tabs->count(); ++i) {
        if (tabs->widget(i)->isAncestorOf(dialog.field(key)))
            tabs->setCurrentIndex(i);
    }
    field<QSpinBox>(dialog, "port")->setValue(9999); // valid, and still not saved
    field<QLineEdit>(dialog, qPrintable(key))->setText(file(text));
    if (!other.isEmpty()) {
        const char *otherKey = key == u"tls-cert" ? "tls-key" : "tls-cert";
        field<QLineEdit>(dialog, otherKey)->setText(file(other));
    }
    QVERIFY(!dialog.isValid());
    QVERIFY(!button(dialog, QDialogButtonBox::Ok)->isEnabled());
    QVERIFY(!button(dialog, QDialogButtonBox::Apply)->isEnabled());
    auto *label = child<QLabel>(dialog, qPrintable(status));
    QVERIFY2(label->text().contains(message), qPrintable(label->text()));
    QVERIFY(label->isVisible());
    QVERIFY(label->styleSheet().contains(u"color"));
    QVERIFY(!dialog.field(key)->accessibleDescription().isEmpty());

    QSignalSpy applied(&dialog, &SettingsDialog::applied);
    QVERIFY(!dialog.apply());
    dialog.accept(); // as Enter would: refused
    QVERIFY(dialog.isVisible());
    QCOMPARE(applied.size(), 0);
    QCOMPARE(storedKeys(), QStringList());
    QCOMPARE(QSettings().allKeys(), QStringList());

    // Fixed: valid again, and OK saves.
    if (tls) {
        field<QLineEdit>(dialog, "tls-cert")->clear();
        field<QLineEdit>(dialog, "tls-key")->clear();
    } else {
        field<QLineEdit>(dialog, qPrintable(key))
            ->setText(key == u"host" ? u"127.0.0.1"_s : QString());
    }
    QVERIFY(dialog.isValid());
    QVERIFY(button(dialog, QDialogButtonBox::Ok)->isEnabled());
    QVERIFY(label->styleSheet().isEmpty());
    button(dialog, QDialogButtonBox::Ok)->click();
    QCOMPARE(storedKeys(), QStringList{u"port"_s});
}

// A real certificate and key load: shown with the name, saved, resolved by options.cpp.
void TstSettings::tlsFilesThatLoad()
{
    SettingsDialog dialog;
    field<QLineEdit>(dialog, "tls-cert")->setText(certFile());
    field<QLineEdit>(dialog, "tls-key")->setText(keyFile());
    QVERIFY(dialog.isValid());
    const QString status = child<QLabel>(dialog, "tlsStatus")->text();
    QVERIFY2(status.contains(u"127.0.0.1"), qPrintable(status)); // the test certificate's name
    QVERIFY(dialog.apply());
    const AppOptions options = resolve();
    QCOMPARE(options.outcome, AppOptions::Outcome::Run);
    QCOMPARE(options.server.tlsCertificate, certFile());
    QCOMPARE(options.server.tlsKey, keyFile());
}

// A flag or environment variable that sets a value for this run is named in the dialog,
// and the window leaves that value alone.
void TstSettings::overridesForThisRunAreShown()
{
    SettingsDialog dialog;
    auto *note = child<QLabel>(dialog, "overrideNote");
    QVERIFY(note->isHidden());
    QProcessEnvironment env;
    env.insert(u"AGMEM_COORDINATOR_HOST"_s, u"0.0.0.0"_s);
    env.insert(u"DATABASE_URL"_s, u":memory:"_s);
    env.insert(u"AGMEM_COORDINATOR_MAX_FACTS"_s, u"5"_s);
    dialog.setRunContext({u"agmem-coordinator"_s, u"--port"_s, u"9000"_s, u"--max-body=4096"_s,
                          u"-merge-mode"_s, u"cumulative"_s},
                         env);
    QCOMPARE(dialog.overriddenBy(u"port"_s), u"--port"_s);
    QCOMPARE(dialog.overriddenBy(u"max-body"_s), u"--max-body"_s);
    QCOMPARE(dialog.overriddenBy(u"merge-mode"_s), u"--merge-mode"_s);
    QCOMPARE(dialog.overriddenBy(u"host"_s), u"AGMEM_COORDINATOR_HOST"_s);
    QCOMPARE(dialog.overriddenBy(u"db"_s), u"DATABASE_URL"_s);
    QCOMPARE(dialog.overriddenBy(u"max-facts"_s), u"AGMEM_COORDINATOR_MAX_FACTS"_s);
    QCOMPARE(dialog.overriddenBy(u"max-topics"_s), QString());
    QCOMPARE(dialog.overriddenBy(u"start-at-launch"_s), QString());
    QVERIFY(!note->isHidden());
    for (const char *source : {"--port", "--max-body", "AGMEM_COORDINATOR_HOST", "DATABASE_URL"})
        QVERIFY2(note->text().contains(QLatin1String(source)), qPrintable(note->text()));
    QVERIFY(note->text().contains(u"Port"));
    QVERIFY(dialog.field(u"port"_s)->toolTip().contains(u"--port"));

    field<QSpinBox>(dialog, "port")->setValue(9001);
    field<QSpinBox>(dialog, "max-topics")->setValue(77);
    ServerConfig config;
    QCOMPARE(dialog.applyTo(&config, {u"port"_s, u"max-topics"_s}), QStringList{u"max-topics"_s});
    QCOMPARE(config.port, quint16(8000));
    QCOMPARE(config.limits.maxTopics, 77);

    dialog.setRunContext({u"agmem-coordinator"_s}, QProcessEnvironment());
    QVERIFY(note->isHidden());
    QVERIFY(!dialog.field(u"port"_s)->toolTip().contains(u"--port"));
}

// Every input has an accessible name and a label whose buddy it is; the tab order follows
// the dialog top to bottom; no two mnemonics of one page collide.
void TstSettings::accessibleNamesBuddiesTabOrder()
{
    SettingsDialog dialog;
    QList<QWidget *> inputs;
    for (QWidget *w : dialog.findChildren<QWidget *>()) {
        if (qobject_cast<QAbstractSpinBox *>(w) || qobject_cast<QAbstractButton *>(w) ||
            (qobject_cast<QLineEdit *>(w) && !qobject_cast<QAbstractSpinBox *>(w->parentWidget())))
            inputs.append(w);
    }
    QVERIFY(inputs.size() > 25);
    for (QWidget *w : std::as_const(inputs)) {
        if (w->parentWidget() && qobject_cast<QDialogButtonBox *>(w->parentWidget()))
            continue;
        if (w->focusPolicy() == Qt::NoFocus)
            continue; // the line edits' clear buttons, the tab bar's scroll buttons
        QVERIFY2(!w->accessibleName().isEmpty(),
                 qPrintable(w->objectName() + u' ' + QLatin1String(w->metaObject()->className()) +
                            u' ' + w->parentWidget()->objectName()));
    }
    QSet<QWidget *> buddies;
    for (QLabel *label : dialog.findChildren<QLabel *>()) {
        if (label->buddy())
            buddies.insert(label->buddy());
    }
    for (const QString &key : SettingsDialog::keys()) {
        QWidget *w = dialog.field(key);
        if (qobject_cast<QLineEdit *>(w) || qobject_cast<QAbstractSpinBox *>(w))
            QVERIFY2(buddies.contains(w), qPrintable(key));
    }

    // The order of the focus chain.
    QStringList expected;
    for (const QString &key : SettingsDialog::keys()) {
        QWidget *w = dialog.field(key);
        if (auto *box = qobject_cast<QGroupBox *>(w)) {
            for (QRadioButton *radio : box->findChildren<QRadioButton *>())
                expected.append(radio->objectName());
        } else {
            expected.append(w->objectName());
        }
    }
    QStringList chain;
    QWidget *start = dialog.field(u"host"_s);
    QWidget *w = start;
    do {
        if (expected.contains(w->objectName()) && !chain.contains(w->objectName()))
            chain.append(w->objectName());
        w = w->nextInFocusChain();
    } while (w != start);
    QCOMPARE(chain, expected);

    // Mnemonics: the tab titles and the buttons are there on every page.
    auto *tabs = child<QTabWidget>(dialog, "tabs");
    QList<QChar> global;
    for (int i = 0; i < tabs->count(); ++i)
        global.append(mnemonic(tabs->tabText(i)));
    for (QAbstractButton *b : child<QDialogButtonBox>(dialog, "buttonBox")->buttons()) {
        if (!mnemonic(b->text()).isNull())
            global.append(mnemonic(b->text()));
    }
    for (int i = 0; i < tabs->count(); ++i) {
        QList<QChar> used = global;
        QStringList texts;
        for (QLabel *label : tabs->widget(i)->findChildren<QLabel *>()) {
            if (label->buddy())
                texts.append(label->text());
        }
        for (QAbstractButton *b : tabs->widget(i)->findChildren<QAbstractButton *>()) {
            if (b->focusPolicy() != Qt::NoFocus)
                texts.append(b->text());
        }
        for (const QString &text : std::as_const(texts)) {
            const QChar m = mnemonic(text);
            QVERIFY2(!m.isNull(), qPrintable(text));
            QVERIFY2(!used.contains(m), qPrintable(text));
            used.append(m);
        }
    }
    QCOMPARE(mnemonic(tabs->tabText(1)), u'm');
    QVERIFY(tabs->tabText(1).contains(u"&&"));
}

// File ▸ Settings in the window: a new port, OK, "restart now?" yes: the server listens on
// it. A new limit with "no": the server keeps running, and uses it at its next start.
void TstSettings::windowRestartsServerWithNewPort()
{
    ServerConfig config;
    config.port = 0;
    QString error;
    config.store = *StoreUrl::parse(m_dir->filePath(u"window.db"_s), &error);
    config.access.rateLimit = 0;
    config.accessLog = false;
    MainWindow window(config);
    window.show();
    window.startServer();
    QTRY_COMPARE(window.controller().state(), ServerController::State::Listening);
    const quint16 before = window.controller().port();

    QStringList asked;
    bool answer = true;
    window.setConfirm([&](const QString &title, const QString &, const QString &) {
        asked << title;
        return answer;
    });
    auto *action = child<QAction>(window, "settingsAction");
    QVERIFY(!action->shortcut().isEmpty());
    action->trigger();
    auto *dialog = window.findChild<SettingsDialog *>();
    QVERIFY(dialog);
    QTRY_VERIFY(dialog->isVisible());
    action->trigger(); // raises the open one, no second dialog
    QCOMPARE(window.findChildren<SettingsDialog *>().size(), 1);

    const quint16 port = freePort();
    QVERIFY(port != 0 && port != before);
    field<QSpinBox>(*dialog, "port")->setValue(port);
    button(*dialog, QDialogButtonBox::Ok)->click();
    QCOMPARE(asked.size(), 1);
    QVERIFY(asked.first().contains(u"Restart"));
    QTRY_COMPARE(window.controller().state(), ServerController::State::Listening);
    QTRY_COMPARE(window.controller().port(), port);
    QCOMPARE(child<QSpinBox>(window, "portSpin")->value(), int(port));
    QVERIFY(listening(port));
    QCOMPARE(QSettings().value(u"port"_s).toInt(), int(port));
    QTRY_VERIFY(!window.findChild<SettingsDialog *>()); // closed and deleted

    // "No": no restart now; the new limit applies at the next start.
    answer = false;
    asked.clear();
    QSignalSpy stopped(&window.controller(), &ServerController::stopped);
    action->trigger();
    dialog = window.findChild<SettingsDialog *>();
    QVERIFY(dialog);
    QCOMPARE(field<QSpinBox>(*dialog, "port")->value(), int(port));
    field<QSpinBox>(*dialog, "max-topics")->setValue(1);
    button(*dialog, QDialogButtonBox::Ok)->click();
    QCOMPARE(asked.size(), 1);
    QTest::qWait(200);
    QCOMPARE(stopped.size(), 0);
    const QByteArray twoTopics =
        R"({"summary":{"agent_id":"a","timestamp":"2025-01-01T00:00:00Z","topic_counts":{"x":1,"y":2}}})";
    QCOMPARE(pushStatus(port, twoTopics), 200);
    window.stopServer();
    QTRY_COMPARE(window.controller().state(), ServerController::State::Stopped);
    window.startServer();
    QTRY_COMPARE(window.controller().state(), ServerController::State::Listening);
    QCOMPARE(window.controller().port(), port);
    QCOMPARE(pushStatus(port, twoTopics), 422);

    // Only the database changed: nothing to restart, the status bar says when it applies.
    asked.clear();
    action->trigger();
    dialog = window.findChild<SettingsDialog *>();
    QVERIFY(dialog);
    field<QLineEdit>(*dialog, "db")->setText(m_dir->filePath(u"other.db"_s));
    button(*dialog, QDialogButtonBox::Ok)->click();
    QCOMPARE(asked, QStringList());
    QVERIFY(window.statusBar()->currentMessage().contains(u"restarts"));
    window.stopServer();
    QTRY_COMPARE(window.controller().state(), ServerController::State::Stopped);
}

// The real program, with start-at-launch saved as false, opens the window without serving
// (and serves, on the saved port, when it is true: the saved options are read by a launch).
void TstSettings::startAtLaunchFalseIsHonored()
{
    const QString binary = qEnvironmentVariable("AGMEM_TEST_BINARY");
    if (binary.isEmpty() || !QFile::exists(binary))
        AGMEM_SKIP_ENVIRONMENT("agmem-coordinator is not built (AGMEM_TEST_BINARY)");
    const QString configHome = m_dir->filePath(u"config"_s);
    const quint16 port = freePort();
    QVERIFY(port != 0);
    const auto save = [&](bool start) {
        QSettings file(configHome + u"/agmem/agmem-coordinator.conf"_s, QSettings::IniFormat);
        file.setValue(u"port"_s, port);
        file.setValue(u"db"_s, m_dir->filePath(u"launch.db"_s));
        file.setValue(SettingsDialog::StartAtLaunchKey, start);
        file.sync();
        QCOMPARE(file.status(), QSettings::NoError);
    };
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(u"XDG_CONFIG_HOME"_s, configHome);
    env.insert(u"XDG_DATA_HOME"_s, m_dir->filePath(u"data"_s));
    env.insert(u"QT_QPA_PLATFORM"_s, u"offscreen"_s);
    const auto launch = [&](QProcess *process) {
        process->setProcessEnvironment(env);
        process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        process->start(binary, {});
        return process->waitForStarted(10000);
    };
    const auto end = [](QProcess *process) {
        process->terminate();
        if (!process->waitForFinished(10000)) {
            process->kill();
            process->waitForFinished(5000);
        }
    };

    save(true);
    QElapsedTimer timer;
    timer.start();
    QProcess serving;
    QVERIFY(launch(&serving));
    QTRY_VERIFY_WITH_TIMEOUT(listening(port), 20000);
    const qint64 startup = timer.elapsed();
    end(&serving);

    save(false);
    QProcess quiet;
    QVERIFY(launch(&quiet));
    // Three times as long as serving took to start, and at least two seconds.
    QTest::qWait(int(qMax<qint64>(2000, 3 * startup)));
    QCOMPARE(quiet.state(), QProcess::Running);
    QVERIFY(!listening(port));
    end(&quiet);
}

int main(int argc, char *argv[])
{
    // Never the person's settings: QSettings in a folder of its own, set before any use.
    QTemporaryDir settingsDir;
    if (!settingsDir.isValid())
        return 1;
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, settingsDir.path());
    QSettings::setPath(QSettings::NativeFormat, QSettings::SystemScope,
                       settingsDir.filePath(u"system"_s));
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settingsDir.path());
    QSettings::setPath(QSettings::IniFormat, QSettings::SystemScope,
                       settingsDir.filePath(u"system"_s));
    // Options from the environment of whoever runs the tests would change what resolves.
    const QStringList names = QProcessEnvironment::systemEnvironment().keys();
    for (const QString &name : names) {
        if (name.startsWith(u"AGMEM_COORDINATOR_") || name == u"DATABASE_URL" || name == u"API_KEY")
            qunsetenv(name.toLocal8Bit().constData());
    }
    QStandardPaths::setTestModeEnabled(true);
    QApplication app(argc, argv);
    QCoreApplication::setOrganizationName(u"agmem"_s);
    QCoreApplication::setApplicationName(u"agmem-coordinator"_s);
    TstSettings test(settingsDir.path());
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_settings.moc"
