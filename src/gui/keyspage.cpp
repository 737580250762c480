#include "keyspage.h"
#include "ui_keyspage.h"

#include "livemodels.h"

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

void KeysPage::setStoreUrl(const StoreUrl &url)
{
    m_url = url;
    m_store.reset();
}

Store *KeysPage::store()
{
    if (!m_store && m_url) {
        QString error;
        m_store = Store::open(*m_url, StoreOptions{}, &error);
        if (!m_store)
            showError(tr("Cannot open the database: %1").arg(error));
    }
    return m_store.get();
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
    Store *s = store();
    if (!s)
        return;
    const auto keys = s->listKeys();
    if (!keys) {
        showError(tr("Cannot read the keys: %1").arg(s->lastError()));
        return;
    }
    const qint64 selected = [this] {
        const int row = m_ui->keysTable->currentRow();
        return row >= 0 && row < m_keys.size() ? m_keys.at(row).id : -1;
    }();
    m_keys = *keys;
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
}

void KeysPage::updateRevokeButton()
{
    const int row = m_ui->keysTable->currentRow();
    const bool selected = !m_ui->keysTable->selectedItems().isEmpty();
    m_ui->revokeButton->setEnabled(selected && row >= 0 && row < m_keys.size() &&
                                   m_keys.at(row).active());
}

std::optional<QString> KeysPage::createKey(const QString &name, unsigned scopes)
{
    Store *s = store();
    if (!s)
        return std::nullopt;
    ApiKeyRecord record;
    const std::optional<QString> key = s->createKey(name, scopes, &record);
    if (!key) {
        showError(tr("Cannot create the key: %1").arg(s->lastError()));
        return std::nullopt;
    }
    m_ui->newKeyEdit->setText(*key);
    m_ui->newKeyFrame->show();
    m_ui->keysStatus->setText(tr("Key \"%1\" created.").arg(name));
    reload();
    Q_EMIT keysChanged();
    return key;
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
    if (createKey(name, scopes))
        m_ui->nameEdit->clear();
}

bool KeysPage::revokeKey(qint64 id, const QString &name)
{
    Store *s = store();
    if (!s)
        return false;
    if (!s->revokeKey(id)) {
        showError(tr("Cannot revoke the key: %1").arg(s->lastError()));
        return false;
    }
    m_ui->keysStatus->setText(tr("Key \"%1\" revoked.").arg(name));
    reload();
    Q_EMIT keysChanged();
    return true;
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

bool KeysPage::hasActiveKey(unsigned scopes)
{
    Store *s = store();
    if (!s)
        return false;
    const auto keys = s->listKeys();
    if (!keys)
        return false;
    return std::any_of(keys->cbegin(), keys->cend(), [scopes](const ApiKeyRecord &k) {
        return k.active() && (k.scopes & scopes) == scopes;
    });
}

} // namespace agmem
