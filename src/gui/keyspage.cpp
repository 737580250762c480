#include "keyspage.h"
#include "ui_keyspage.h"

#include "livemodels.h"
#include "storereader.h"

#include "core/apikey.h"

#include <QClipboard>
#include <QColor>
#include <QEvent>
#include <QFontDatabase>
#include <QGuiApplication>
#include <QHeaderView>
#include <QTimer>

namespace agmem {

KeysPage::KeysPage(QWidget *parent)
    : QWidget(parent)
    , m_ui(std::make_unique<Ui::KeysPage>())
{
    m_ui->setupUi(this);
    m_ui->newKeyFrame->hide();
    m_ui->copyKeyButton->setIcon(QIcon(QStringLiteral(":/icons/copy.svg")));
    m_ui->createButton->setIcon(QIcon(QStringLiteral(":/icons/key.svg")));
    m_ui->newKeyEdit->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    QTableWidget *table = m_ui->keysTable;
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->setSelectionMode(QAbstractItemView::SingleSelection);
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table->verticalHeader()->hide();
    table->horizontalHeader()->setStretchLastSection(true);
    table->setAlternatingRowColors(true);
    m_ui->revokeButton->setEnabled(false);

    connect(m_ui->createButton, &QPushButton::clicked, this, &KeysPage::onCreate);
    connect(m_ui->nameEdit, &QLineEdit::returnPressed, this, &KeysPage::onCreate);
    connect(m_ui->revokeButton, &QPushButton::clicked, this, &KeysPage::onRevoke);
    connect(m_ui->copyKeyButton, &QPushButton::clicked, this, [this] {
        QGuiApplication::clipboard()->setText(m_ui->newKeyEdit->text());
        m_ui->keysStatus->setText(tr("The key is on the clipboard."));
    });
    connect(m_ui->doneButton, &QPushButton::clicked, this, [this] {
        m_ui->newKeyEdit->clear();
        m_ui->newKeyFrame->hide();
    });
    connect(table, &QTableWidget::itemSelectionChanged, this, &KeysPage::updateRevokeButton);
    // Last-use times change while the page is open.
    auto *timer = new QTimer(this);
    timer->setInterval(5000);
    connect(timer, &QTimer::timeout, this, [this] {
        if (isVisible())
            reload();
    });
    timer->start();
}

KeysPage::~KeysPage() = default;

void KeysPage::setReader(ReaderThread *reader)
{
    m_reader = reader;
    StoreReader *r = reader->reader();
    connect(r, &StoreReader::keysListed, this, &KeysPage::onKeysListed);
    reload();
}

void KeysPage::showError(const QString &text)
{
    m_ui->keysStatus->setText(u"<span style=\"color:#c5221f\">" + text.toHtmlEscaped() +
                              u"</span>");
}

void KeysPage::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    reload();
}

void KeysPage::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::LanguageChange)
        m_ui->retranslateUi(this);
    QWidget::changeEvent(event);
}

void KeysPage::reload()
{
    if (!m_reader || m_listing)
        return; // the answer to the request in progress comes soon enough
    m_listing = true;
    StoreReader *reader = m_reader->reader();
    const quint64 token = ++m_token;
    m_reader->post([reader, token] { reader->listKeys(token); });
}

void KeysPage::onKeysListed(quint64, const QList<ApiKeyRecord> &keys, const QString &error)
{
    m_listing = false;
    if (!error.isEmpty()) {
        showError(tr("Cannot read the keys: %1").arg(error));
        return;
    }
    const qint64 selected = [this] {
        const int row = m_ui->keysTable->currentRow();
        return row >= 0 && row < m_keys.size() ? m_keys.at(row).id : -1;
    }();
    m_keys = keys;
    m_loaded = true;
    QTableWidget *table = m_ui->keysTable;
    table->setRowCount(int(m_keys.size()));
    for (int row = 0; row < m_keys.size(); ++row) {
        const ApiKeyRecord &k = m_keys.at(row);
        const QStringList texts{
            k.name,
            k.prefix,
            scopesToString(k.scopes).replace(u',', QStringLiteral(", ")),
            formatInstant(k.createdAt),
            k.lastUsedAt ? formatInstant(k.lastUsedAt) : tr("never"),
            k.active() ? tr("active") : tr("revoked %1").arg(formatInstant(k.revokedAt)),
        };
        for (int column = 0; column < texts.size(); ++column) {
            auto *item = new QTableWidgetItem(texts.at(column));
            if (!k.active())
                item->setForeground(QColor(0x80, 0x86, 0x8b));
            table->setItem(row, column, item);
        }
        if (k.id == selected)
            table->selectRow(row);
    }
    table->resizeColumnsToContents();
    table->horizontalHeader()->setStretchLastSection(true);
    updateRevokeButton();
    Q_EMIT keysChanged();
}

void KeysPage::updateRevokeButton()
{
    const int row = m_ui->keysTable->currentRow();
    const bool selected = !m_ui->keysTable->selectedItems().isEmpty();
    m_ui->revokeButton->setEnabled(selected && row >= 0 && row < m_keys.size() &&
                                   m_keys.at(row).active());
}

void KeysPage::createKey(const QString &name, unsigned scopes,
                         std::function<void(const QString &key)> done)
{
    if (!m_reader)
        return;
    StoreReader *reader = m_reader->reader();
    const quint64 token = ++m_token;
    // One answer per request: the connection goes with it.
    auto connection = std::make_shared<QMetaObject::Connection>();
    *connection = connect(reader, &StoreReader::keyCreated, this,
                          [this, token, name, done,
                           connection](quint64 answered, const QString &key, const QString &error) {
                              if (answered != token)
                                  return;
                              disconnect(*connection);
                              if (!error.isEmpty()) {
                                  showError(tr("Cannot create the key: %1").arg(error));
                                  return;
                              }
                              m_ui->newKeyEdit->setText(key);
                              m_ui->newKeyFrame->show();
                              m_ui->keysStatus->setText(tr("Key \"%1\" created.").arg(name));
                              m_listing = false;
                              reload();
                              if (done)
                                  done(key);
                              Q_EMIT keyCreated(key);
                          });
    m_reader->post([reader, name, scopes, token] { reader->createKey(name, scopes, token); });
}

void KeysPage::onCreate()
{
    const QString name = m_ui->nameEdit->text().trimmed();
    unsigned scopes = 0;
    if (m_ui->pushCheck->isChecked())
        scopes |= unsigned(Scope::Push);
    if (m_ui->pullCheck->isChecked())
        scopes |= unsigned(Scope::Pull);
    if (m_ui->adminCheck->isChecked())
        scopes |= unsigned(Scope::Admin);
    if (name.isEmpty()) {
        showError(tr("Give the key a name, so you know later who uses it."));
        m_ui->nameEdit->setFocus();
        return;
    }
    if (scopes == 0) {
        showError(tr("Choose at least one scope."));
        return;
    }
    createKey(name, scopes, [this](const QString &) { m_ui->nameEdit->clear(); });
}

void KeysPage::revokeKey(qint64 id, const QString &name)
{
    if (!m_reader)
        return;
    StoreReader *reader = m_reader->reader();
    const quint64 token = ++m_token;
    auto connection = std::make_shared<QMetaObject::Connection>();
    *connection =
        connect(reader, &StoreReader::keyRevoked, this,
                [this, token, name, connection](quint64 answered, bool ok, const QString &error) {
                    if (answered != token)
                        return;
                    disconnect(*connection);
                    if (!ok) {
                        showError(tr("Cannot revoke the key: %1").arg(error));
                        return;
                    }
                    m_ui->keysStatus->setText(tr("Key \"%1\" revoked.").arg(name));
                    m_listing = false;
                    reload();
                });
    m_reader->post([reader, id, token] { reader->revokeKey(id, token); });
}

void KeysPage::onRevoke()
{
    const int row = m_ui->keysTable->currentRow();
    if (row < 0 || row >= m_keys.size() || !m_keys.at(row).active())
        return;
    const ApiKeyRecord key = m_keys.at(row);
    if (m_confirm &&
        !m_confirm(tr("Revoke key"),
                   tr("Revoke the key \"%1\" (%2)? Clients using it are refused within a few "
                      "seconds. This cannot be undone.")
                       .arg(key.name, key.prefix),
                   tr("Revoke")))
        return;
    revokeKey(key.id, key.name);
}

bool KeysPage::hasActiveKey(unsigned scopes) const
{
    return std::any_of(m_keys.cbegin(), m_keys.cend(), [scopes](const ApiKeyRecord &k) {
        return k.active() && (k.scopes & scopes) == scopes;
    });
}

} // namespace agmem
