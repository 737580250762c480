#pragma once

#include "store/store.h"

#include <QWidget>

#include <functional>
#include <memory>
#include <optional>

namespace Ui {
class KeysPage;
}

namespace agmem {

// API keys: create (shown once, with Copy), list, revoke. Works on its own read-write
// store connection in the GUI thread; the server notices changes within two seconds.
class KeysPage : public QWidget
{
    Q_OBJECT

public:
    // Asks the person to confirm; tests replace it.
    using Confirm =
        std::function<bool(const QString &title, const QString &text, const QString &acceptLabel)>;

    explicit KeysPage(QWidget *parent = nullptr);
    ~KeysPage() override;

    void setStoreUrl(const StoreUrl &url);
    void setConfirm(Confirm confirm) { m_confirm = std::move(confirm); }

    // Creates a key and shows it once. nullopt (with the error shown) on failure.
    std::optional<QString> createKey(const QString &name, unsigned scopes);
    bool revokeKey(qint64 id, const QString &name);
    // Whether an active key holds all of `scopes`.
    bool hasActiveKey(unsigned scopes);
    void reload();

Q_SIGNALS:
    void keysChanged();

protected:
    void showEvent(QShowEvent *event) override;
    void changeEvent(QEvent *event) override;

private:
    Store *store();
    void onCreate();
    void onRevoke();
    void showError(const QString &text);
    void updateRevokeButton();

    std::unique_ptr<Ui::KeysPage> m_ui;
    std::optional<StoreUrl> m_url;
    std::unique_ptr<Store> m_store;
    QList<ApiKeyRecord> m_keys;
    Confirm m_confirm;
};

} // namespace agmem
