<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="fr">
<context>
    <name>ExportDialog</name>
    <message>
        <source>Export</source>
        <translation>Exporter</translation>
    </message>
    <message>
        <source>&amp;What:</source>
        <translation>&amp;Contenu :</translation>
    </message>
    <message>
        <source>What to export</source>
        <translation>Contenu à exporter</translation>
    </message>
    <message>
        <source>&amp;Format:</source>
        <translation>F&amp;ormat :</translation>
    </message>
    <message>
        <source>File format</source>
        <translation>Format du fichier</translation>
    </message>
    <message>
        <source>F&amp;ile:</source>
        <translation>F&amp;ichier :</translation>
    </message>
    <message>
        <source>File to export to</source>
        <translation>Fichier de destination</translation>
    </message>
    <message>
        <source>Choose the file</source>
        <translation>Choisir le fichier</translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation>&amp;Parcourir…</translation>
    </message>
    <message>
        <source>Export progress</source>
        <translation>Progression de l’exportation</translation>
    </message>
    <message>
        <source>Export status</source>
        <translation>État de l’exportation</translation>
    </message>
    <message>
        <source>&amp;Export</source>
        <translation>&amp;Exporter</translation>
    </message>
    <message>
        <source>Stop the export; no file is written</source>
        <translation>Arrêter l’exportation ; aucun fichier n’est écrit</translation>
    </message>
    <message>
        <source>&amp;Cancel export</source>
        <translation>&amp;Annuler l’exportation</translation>
    </message>
    <message>
        <source>C&amp;lose</source>
        <translation>&amp;Fermer</translation>
    </message>
</context>
<context>
    <name>KeysPage</name>
    <message>
        <source>New key</source>
        <translation>Nouvelle clé</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>&amp;Nom :</translation>
    </message>
    <message>
        <source>Name of the new key</source>
        <translation>Nom de la nouvelle clé</translation>
    </message>
    <message>
        <source>e.g. laptop of Ada</source>
        <translation>p. ex. portable d’Ada</translation>
    </message>
    <message>
        <source>Scopes:</source>
        <translation>Droits :</translation>
    </message>
    <message>
        <source>May push summaries</source>
        <translation>Peut envoyer des résumés</translation>
    </message>
    <message>
        <source>May pull the merged view</source>
        <translation>Peut récupérer la vue fusionnée</translation>
    </message>
    <message>
        <source>May reset the coordinator and delete agents</source>
        <translation>Peut réinitialiser le coordinateur et supprimer des agents</translation>
    </message>
    <message>
        <source>C&amp;reate key</source>
        <translation>C&amp;réer la clé</translation>
    </message>
    <message>
        <source>Copy the new key now: it is shown only this once.</source>
        <translation>Copiez la nouvelle clé maintenant : elle n’est affichée qu’une seule fois.</translation>
    </message>
    <message>
        <source>The new key</source>
        <translation>La nouvelle clé</translation>
    </message>
    <message>
        <source>Copy the new key</source>
        <translation>Copier la nouvelle clé</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>&amp;Copier</translation>
    </message>
    <message>
        <source>Hide the new key</source>
        <translation>Masquer la nouvelle clé</translation>
    </message>
    <message>
        <source>&amp;Done</source>
        <translation>&amp;Terminé</translation>
    </message>
    <message>
        <source>API keys</source>
        <translation>Clés d’API</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nom</translation>
    </message>
    <message>
        <source>Key starts with</source>
        <translation>La clé commence par</translation>
    </message>
    <message>
        <source>Scopes</source>
        <translation>Droits</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>Créée</translation>
    </message>
    <message>
        <source>Last used</source>
        <translation>Dernière utilisation</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>État</translation>
    </message>
    <message>
        <source>Revoke the selected key</source>
        <translation>Révoquer la clé sélectionnée</translation>
    </message>
    <message>
        <source>Re&amp;voke…</source>
        <translation>Ré&amp;voquer…</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>agmem Coordinator</source>
        <translation>Coordinateur agmem</translation>
    </message>
    <message>
        <source>Security warning</source>
        <translation>Avertissement de sécurité</translation>
    </message>
    <message>
        <source>The coordinator is reachable from the network and requires no API key: anyone who can reach this computer can push, pull and fill the database. Create a key on the API keys page.</source>
        <translation>Le coordinateur est accessible depuis le réseau sans clé d’API : toute personne pouvant joindre cet ordinateur peut envoyer, récupérer et remplir la base de données. Créez une clé dans l’onglet Clés d’API.</translation>
    </message>
    <message>
        <source>Server</source>
        <translation>Serveur</translation>
    </message>
    <message>
        <source>Server state</source>
        <translation>État du serveur</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>Arrêté</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>Adresse du serveur</translation>
    </message>
    <message>
        <source>&amp;Host:</source>
        <translation>&amp;Hôte :</translation>
    </message>
    <message>
        <source>Host address to listen on</source>
        <translation>Adresse d’écoute</translation>
    </message>
    <message>
        <source>&amp;Port:</source>
        <translation>&amp;Port :</translation>
    </message>
    <message>
        <source>Port to listen on</source>
        <translation>Port d’écoute</translation>
    </message>
    <message>
        <source>Start the server</source>
        <translation>Démarrer le serveur</translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation>&amp;Démarrer</translation>
    </message>
    <message>
        <source>Stop the server</source>
        <translation>Arrêter le serveur</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>Arrê&amp;ter</translation>
    </message>
    <message>
        <source>Server error</source>
        <translation>Erreur du serveur</translation>
    </message>
    <message>
        <source>&amp;Agents</source>
        <translation>&amp;Agents</translation>
    </message>
    <message>
        <source>Filter agents</source>
        <translation>Filtrer les agents</translation>
    </message>
    <message>
        <source>Filter agents by id…</source>
        <translation>Filtrer les agents par identifiant…</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Agents</translation>
    </message>
    <message>
        <source>Select an agent to see its current summary.</source>
        <translation>Sélectionnez un agent pour voir son résumé actuel.</translation>
    </message>
    <message>
        <source>Topics of the selected agent</source>
        <translation>Sujets de l’agent sélectionné</translation>
    </message>
    <message>
        <source>Topic</source>
        <translation>Sujet</translation>
    </message>
    <message>
        <source>Count</source>
        <translation>Nombre</translation>
    </message>
    <message>
        <source>Facts of the selected agent</source>
        <translation>Faits de l’agent sélectionné</translation>
    </message>
    <message>
        <source>Push history of the selected agent</source>
        <translation>Historique des envois de l’agent sélectionné</translation>
    </message>
    <message>
        <source>Received</source>
        <translation>Reçu</translation>
    </message>
    <message>
        <source>Summary time</source>
        <translation>Heure du résumé</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>Source</translation>
    </message>
    <message>
        <source>Topics</source>
        <translation>Sujets</translation>
    </message>
    <message>
        <source>Facts</source>
        <translation>Faits</translation>
    </message>
    <message>
        <source>T&amp;opics</source>
        <translation>&amp;Sujets</translation>
    </message>
    <message>
        <source>Filter topics</source>
        <translation>Filtrer les sujets</translation>
    </message>
    <message>
        <source>Filter topics…</source>
        <translation>Filtrer les sujets…</translation>
    </message>
    <message>
        <source>Merged topic counts</source>
        <translation>Comptes fusionnés par sujet</translation>
    </message>
    <message>
        <source>Select a topic to see which agents report it.</source>
        <translation>Sélectionnez un sujet pour voir quels agents le signalent.</translation>
    </message>
    <message>
        <source>Agents reporting the selected topic</source>
        <translation>Agents signalant le sujet sélectionné</translation>
    </message>
    <message>
        <source>Agent</source>
        <translation>Agent</translation>
    </message>
    <message>
        <source>&amp;Facts</source>
        <translation>&amp;Faits</translation>
    </message>
    <message>
        <source>Filter facts</source>
        <translation>Filtrer les faits</translation>
    </message>
    <message>
        <source>Filter facts…</source>
        <translation>Filtrer les faits…</translation>
    </message>
    <message>
        <source>Unique facts</source>
        <translation>Faits uniques</translation>
    </message>
    <message>
        <source>A&amp;ctivity</source>
        <translation>A&amp;ctivité</translation>
    </message>
    <message>
        <source>Pause the activity list</source>
        <translation>Mettre la liste d’activité en pause</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>&amp;Pause</translation>
    </message>
    <message>
        <source>Clear the activity list</source>
        <translation>Vider la liste d’activité</translation>
    </message>
    <message>
        <source>C&amp;lear</source>
        <translation>&amp;Vider</translation>
    </message>
    <message>
        <source>Latest requests</source>
        <translation>Dernières requêtes</translation>
    </message>
    <message>
        <source>S&amp;hare with the team</source>
        <translation>&amp;Partager avec l’équipe</translation>
    </message>
    <message>
        <source>Share with the team</source>
        <translation>Partager avec l’équipe</translation>
    </message>
    <message>
        <source>Share with the team: listen on every network interface</source>
        <translation>Partager avec l’équipe : écouter sur toutes les interfaces réseau</translation>
    </message>
    <message>
        <source>Off, the coordinator only answers programs on this computer. On, agents on other machines can reach it; give them an API key so nobody else can.</source>
        <translation>Désactivé, le coordinateur ne répond qu’aux programmes de cet ordinateur. Activé, les agents d’autres machines peuvent le joindre ; donnez-leur une clé d’API pour que personne d’autre ne le puisse.</translation>
    </message>
    <message>
        <source>Create a &amp;key for the team…</source>
        <translation>Créer une &amp;clé pour l’équipe…</translation>
    </message>
    <message>
        <source>Paste this into &lt;code&gt;.mem/config.yaml&lt;/code&gt; of each agmem client:</source>
        <translation>Collez ceci dans le &lt;code&gt;.mem/config.yaml&lt;/code&gt; de chaque client agmem :</translation>
    </message>
    <message>
        <source>Client configuration snippet</source>
        <translation>Extrait de configuration client</translation>
    </message>
    <message>
        <source>Copy the configuration snippet</source>
        <translation>Copier l’extrait de configuration</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>&amp;Copier</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Fichier</translation>
    </message>
    <message>
        <source>&amp;Server</source>
        <translation>&amp;Serveur</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>&amp;Aide</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Quitter</translation>
    </message>
    <message>
        <source>&amp;Copy address</source>
        <translation>&amp;Copier l’adresse</translation>
    </message>
    <message>
        <source>&amp;About agmem Coordinator</source>
        <translation>À &amp;propos du coordinateur agmem</translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation>&amp;Exporter…</translation>
    </message>
    <message>
        <source>Export the merged view, the agents or the history as JSON or CSV</source>
        <translation>Exporter la vue fusionnée, les agents ou l’historique en JSON ou CSV</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>&amp;Paramètres…</translation>
    </message>
    <message>
        <source>Host, port, merge mode, durability, limits, TLS and database location</source>
        <translation>Hôte, port, mode de fusion, durabilité, limites, TLS et emplacement de la base de données</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>Paramètres</translation>
    </message>
    <message>
        <source>Settings overridden for this run</source>
        <translation>Paramètres remplacés pour cette exécution</translation>
    </message>
    <message>
        <source>&amp;Server</source>
        <translation>&amp;Serveur</translation>
    </message>
    <message>
        <source>&amp;Host:</source>
        <translation>&amp;Hôte :</translation>
    </message>
    <message>
        <source>Host address to listen on</source>
        <translation>Adresse d’écoute</translation>
    </message>
    <message>
        <source>Address to listen on. Anything but loopback exposes the coordinator to the network.</source>
        <translation>Adresse d’écoute. Toute adresse autre que la boucle locale expose le coordinateur au réseau.</translation>
    </message>
    <message>
        <source>Host address check</source>
        <translation>Vérification de l’adresse d’écoute</translation>
    </message>
    <message>
        <source>&amp;Port:</source>
        <translation>&amp;Port :</translation>
    </message>
    <message>
        <source>Port to listen on</source>
        <translation>Port d’écoute</translation>
    </message>
    <message>
        <source>TCP port to listen on; 0 picks a free one.</source>
        <translation>Port TCP d’écoute ; 0 en choisit un libre.</translation>
    </message>
    <message>
        <source>Any free port</source>
        <translation>N’importe quel port libre</translation>
    </message>
    <message>
        <source>Start serving when the app starts</source>
        <translation>Démarrer le serveur au lancement de l’application</translation>
    </message>
    <message>
        <source>Start serving when the app sta&amp;rts</source>
        <translation>Démarrer le se&amp;rveur au lancement de l’application</translation>
    </message>
    <message>
        <source>Takes effect the next time the app starts. Without it, press Start in the window.</source>
        <translation>Prend effet au prochain lancement de l’application. Sinon, cliquez sur Démarrer dans la fenêtre.</translation>
    </message>
    <message>
        <source>Host and port take effect when the server restarts. If it is running when you press OK or Apply, you are asked whether to restart it now.</source>
        <translation>L’hôte et le port prennent effet au redémarrage du serveur. S’il est en marche lorsque vous cliquez sur OK ou Appliquer, il vous est proposé de le redémarrer aussitôt.</translation>
    </message>
    <message>
        <source>When server settings take effect</source>
        <translation>Prise d’effet des paramètres du serveur</translation>
    </message>
    <message>
        <source>&amp;Merge &amp;&amp; storage</source>
        <translation>&amp;Fusion et stockage</translation>
    </message>
    <message>
        <source>Merge mode</source>
        <translation>Mode de fusion</translation>
    </message>
    <message>
        <source>Merge mode latest</source>
        <translation>Mode de fusion : plus récent</translation>
    </message>
    <message>
        <source>Lat&amp;est</source>
        <translation>Plus &amp;récent</translation>
    </message>
    <message>
        <source>Each agent&apos;s newest summary counts once; an older or repeated push changes nothing.</source>
        <translation>Le résumé le plus récent de chaque agent compte une fois ; un envoi plus ancien ou répété ne change rien.</translation>
    </message>
    <message>
        <source>Merge mode cumulative</source>
        <translation>Mode de fusion : cumulatif</translation>
    </message>
    <message>
        <source>C&amp;umulative</source>
        <translation>C&amp;umulatif</translation>
    </message>
    <message>
        <source>Every accepted push is added up, exactly like the reference server.</source>
        <translation>Chaque envoi accepté est additionné, exactement comme sur le serveur de référence.</translation>
    </message>
    <message>
        <source>Durability</source>
        <translation>Durabilité</translation>
    </message>
    <message>
        <source>Durability full</source>
        <translation>Durabilité : complète</translation>
    </message>
    <message>
        <source>&amp;Full</source>
        <translation>&amp;Complète</translation>
    </message>
    <message>
        <source>A confirmed push survives a power loss.</source>
        <translation>Un envoi confirmé survit à une coupure de courant.</translation>
    </message>
    <message>
        <source>Durability normal</source>
        <translation>Durabilité : normale</translation>
    </message>
    <message>
        <source>&amp;Normal</source>
        <translation>&amp;Normale</translation>
    </message>
    <message>
        <source>Faster: survives a crash of the coordinator, but not of the machine.</source>
        <translation>Plus rapide : survit à un plantage du coordinateur, mais pas de la machine.</translation>
    </message>
    <message>
        <source>Merge mode and durability take effect when the server restarts; a new merge mode is recomputed from the stored history.</source>
        <translation>Le mode de fusion et la durabilité prennent effet au redémarrage du serveur ; un nouveau mode de fusion est recalculé à partir de l’historique enregistré.</translation>
    </message>
    <message>
        <source>When merge mode and durability take effect</source>
        <translation>Prise d’effet du mode de fusion et de la durabilité</translation>
    </message>
    <message>
        <source>Database</source>
        <translation>Base de données</translation>
    </message>
    <message>
        <source>Data&amp;base:</source>
        <translation>&amp;Base de données :</translation>
    </message>
    <message>
        <source>Database location</source>
        <translation>Emplacement de la base de données</translation>
    </message>
    <message>
        <source>A SQLite file, sqlite:///path/file.db, :memory: (throwaway) or postgresql://user:password@host:5432/database.</source>
        <translation>Un fichier SQLite, sqlite:///path/file.db, :memory: (jetable) ou postgresql://user:password@host:5432/database.</translation>
    </message>
    <message>
        <source>Default: a SQLite file in the app-data folder</source>
        <translation>Par défaut : un fichier SQLite dans le dossier de données de l’application</translation>
    </message>
    <message>
        <source>Choose a SQLite database file</source>
        <translation>Choisir un fichier de base de données SQLite</translation>
    </message>
    <message>
        <source>Bro&amp;wse…</source>
        <translation>Parc&amp;ourir…</translation>
    </message>
    <message>
        <source>Database location check</source>
        <translation>Vérification de l’emplacement de la base de données</translation>
    </message>
    <message>
        <source>A SQLite file, or postgresql://user:password@host:5432/database. Empty: the default.</source>
        <translation>Un fichier SQLite, ou postgresql://user:password@host:5432/database. Vide : valeur par défaut.</translation>
    </message>
    <message>
        <source>Takes effect when the app restarts: the window reads this database too.</source>
        <translation>Prend effet au redémarrage de l’application : la fenêtre lit aussi cette base de données.</translation>
    </message>
    <message>
        <source>When the database location takes effect</source>
        <translation>Prise d’effet de l’emplacement de la base de données</translation>
    </message>
    <message>
        <source>&amp;Limits</source>
        <translation>&amp;Limites</translation>
    </message>
    <message>
        <source>Each push</source>
        <translation>Par envoi</translation>
    </message>
    <message>
        <source>Largest request &amp;body:</source>
        <translation>Taille max. du &amp;corps de requête :</translation>
    </message>
    <message>
        <source>Largest request body in bytes</source>
        <translation>Taille maximale du corps de requête en octets</translation>
    </message>
    <message>
        <source>Largest request body accepted (else 413).</source>
        <translation>Taille maximale acceptée pour le corps de requête (sinon 413).</translation>
    </message>
    <message>
        <source> bytes</source>
        <translation> octets</translation>
    </message>
    <message>
        <source>Longest agent &amp;ID:</source>
        <translation>Longueur max. de l’&amp;identifiant d’agent :</translation>
    </message>
    <message>
        <source>Longest agent ID in characters</source>
        <translation>Longueur maximale de l’identifiant d’agent en caractères</translation>
    </message>
    <message>
        <source>Longest agent_id accepted.</source>
        <translation>Longueur maximale acceptée pour agent_id.</translation>
    </message>
    <message>
        <source> characters</source>
        <translation> caractères</translation>
    </message>
    <message>
        <source>Most to&amp;pics:</source>
        <translation>Nombre max. de s&amp;ujets :</translation>
    </message>
    <message>
        <source>Most topics in one summary</source>
        <translation>Nombre maximal de sujets par résumé</translation>
    </message>
    <message>
        <source>Most topics in one summary.</source>
        <translation>Nombre maximal de sujets par résumé.</translation>
    </message>
    <message>
        <source>Longest topic &amp;name:</source>
        <translation>Longueur max. d’un &amp;nom de sujet :</translation>
    </message>
    <message>
        <source>Longest topic name in characters</source>
        <translation>Longueur maximale d’un nom de sujet en caractères</translation>
    </message>
    <message>
        <source>Longest topic name.</source>
        <translation>Longueur maximale d’un nom de sujet.</translation>
    </message>
    <message>
        <source>Most &amp;facts:</source>
        <translation>Nombre max. de f&amp;aits :</translation>
    </message>
    <message>
        <source>Most fact hashes in one summary</source>
        <translation>Nombre maximal de hachages de faits par résumé</translation>
    </message>
    <message>
        <source>Most fact hashes in one summary.</source>
        <translation>Nombre maximal de hachages de faits par résumé.</translation>
    </message>
    <message>
        <source>Longest fact &amp;hash:</source>
        <translation>Longueur max. d’un &amp;hachage de fait :</translation>
    </message>
    <message>
        <source>Longest fact hash or label in characters</source>
        <translation>Longueur maximale d’un hachage ou libellé de fait en caractères</translation>
    </message>
    <message>
        <source>Longest fact hash or label.</source>
        <translation>Longueur maximale d’un hachage ou libellé de fait.</translation>
    </message>
    <message>
        <source>Lar&amp;gest metadata:</source>
        <translation>Taille max. des &amp;métadonnées :</translation>
    </message>
    <message>
        <source>Largest metadata object in bytes</source>
        <translation>Taille maximale de l’objet de métadonnées en octets</translation>
    </message>
    <message>
        <source>Largest metadata object (as compact JSON).</source>
        <translation>Taille maximale de l’objet de métadonnées (en JSON compact).</translation>
    </message>
    <message>
        <source>Connections</source>
        <translation>Connexions</translation>
    </message>
    <message>
        <source>Most open conn&amp;ections:</source>
        <translation>Nombre max. de connexions &amp;ouvertes :</translation>
    </message>
    <message>
        <source>Most open connections</source>
        <translation>Nombre maximal de connexions ouvertes</translation>
    </message>
    <message>
        <source>Open connections at most; more are answered 503.</source>
        <translation>Nombre maximal de connexions ouvertes ; au-delà, la réponse est 503.</translation>
    </message>
    <message>
        <source>Idle timeo&amp;ut:</source>
        <translation>Délai d’inacti&amp;vité :</translation>
    </message>
    <message>
        <source>Idle timeout in seconds</source>
        <translation>Délai d’inactivité en secondes</translation>
    </message>
    <message>
        <source>A keep-alive connection with no request is closed after this long.</source>
        <translation>Une connexion keep-alive sans requête est fermée au bout de ce délai.</translation>
    </message>
    <message>
        <source> s</source>
        <translation> s</translation>
    </message>
    <message>
        <source>&amp;Read timeout:</source>
        <translation>Délai de l&amp;ecture :</translation>
    </message>
    <message>
        <source>Read timeout in seconds</source>
        <translation>Délai de lecture en secondes</translation>
    </message>
    <message>
        <source>A request must arrive whole within this long (else 408).</source>
        <translation>Une requête doit arriver en entier dans ce délai (sinon 408).</translation>
    </message>
    <message>
        <source>Largest re&amp;quest head:</source>
        <translation>Taille max. de l’en-tête de re&amp;quête :</translation>
    </message>
    <message>
        <source>Largest request head in bytes</source>
        <translation>Taille maximale de l’en-tête de requête en octets</translation>
    </message>
    <message>
        <source>Largest request line plus headers (else 431).</source>
        <translation>Taille maximale de la ligne de requête et des en-têtes (sinon 431).</translation>
    </message>
    <message>
        <source>Rate limit per &amp;key:</source>
        <translation>Limite de dé&amp;bit par clé :</translation>
    </message>
    <message>
        <source>Rate limit in requests per second</source>
        <translation>Limite de débit en requêtes par seconde</translation>
    </message>
    <message>
        <source>Requests per second per API key (per address without a key), bursts of twice as many; 0 turns it off.</source>
        <translation>Requêtes par seconde par clé d’API (par adresse sans clé), avec des pointes jusqu’au double ; 0 la désactive.</translation>
    </message>
    <message>
        <source> requests/s</source>
        <translation> requêtes/s</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>Désactivée</translation>
    </message>
    <message>
        <source>Limits take effect when the server restarts.</source>
        <translation>Les limites prennent effet au redémarrage du serveur.</translation>
    </message>
    <message>
        <source>When limits take effect</source>
        <translation>Prise d’effet des limites</translation>
    </message>
    <message>
        <source>&amp;TLS</source>
        <translation>&amp;TLS</translation>
    </message>
    <message>
        <source>Cert&amp;ificate:</source>
        <translation>Cert&amp;ificat :</translation>
    </message>
    <message>
        <source>TLS certificate file</source>
        <translation>Fichier du certificat TLS</translation>
    </message>
    <message>
        <source>Serve HTTPS with this certificate (chain), a PEM file.</source>
        <translation>Servir en HTTPS avec ce certificat (ou cette chaîne), au format PEM.</translation>
    </message>
    <message>
        <source>Choose the certificate file</source>
        <translation>Choisir le fichier du certificat</translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation>&amp;Parcourir…</translation>
    </message>
    <message>
        <source>Private &amp;key:</source>
        <translation>&amp;Clé privée :</translation>
    </message>
    <message>
        <source>TLS private key file</source>
        <translation>Fichier de la clé privée TLS</translation>
    </message>
    <message>
        <source>The certificate&apos;s unencrypted private key, a PEM file.</source>
        <translation>La clé privée non chiffrée du certificat, au format PEM.</translation>
    </message>
    <message>
        <source>Choose the private key file</source>
        <translation>Choisir le fichier de la clé privée</translation>
    </message>
    <message>
        <source>TLS files check</source>
        <translation>Vérification des fichiers TLS</translation>
    </message>
    <message>
        <source>Both files or neither. With both, the server answers HTTPS only; the agmem clients then need an https:// coordinator_url. Takes effect when the server restarts.</source>
        <translation>Les deux fichiers ou aucun. Avec les deux, le serveur ne répond qu’en HTTPS ; les clients agmem ont alors besoin d’une coordinator_url commençant par https:// pour se connecter. Prend effet au redémarrage du serveur.</translation>
    </message>
    <message>
        <source>When TLS takes effect</source>
        <translation>Prise d’effet de TLS</translation>
    </message>
</context>
<context>
    <name>agmem::ActivityModel</name>
    <message>
        <source>(refused before reading)</source>
        <translation>(refusée avant lecture)</translation>
    </message>
    <message>
        <source>merged</source>
        <translation>fusionné</translation>
    </message>
    <message>
        <source>accepted, merge unchanged (repeated or older summary)</source>
        <translation>accepté, fusion inchangée (résumé répété ou plus ancien)</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>Heure</translation>
    </message>
    <message>
        <source>Agent</source>
        <translation>Agent</translation>
    </message>
    <message>
        <source>Request</source>
        <translation>Requête</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>Source</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>État</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Résultat</translation>
    </message>
</context>
<context>
    <name>agmem::AgentsModel</name>
    <message>
        <source>Agent</source>
        <translation>Agent</translation>
    </message>
    <message>
        <source>First seen</source>
        <translation>Vu la première fois</translation>
    </message>
    <message>
        <source>Last seen</source>
        <translation>Vu la dernière fois</translation>
    </message>
    <message>
        <source>Pushes</source>
        <translation>Envois</translation>
    </message>
    <message>
        <source>Topics</source>
        <translation>Sujets</translation>
    </message>
    <message>
        <source>Facts</source>
        <translation>Faits</translation>
    </message>
</context>
<context>
    <name>agmem::ExportDialog</name>
    <message>
        <source>Merged view (as /pull answers it)</source>
        <translation>Vue fusionnée (telle que /pull la renvoie)</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Agents</translation>
    </message>
    <message>
        <source>History (every push)</source>
        <translation>Historique (tous les envois)</translation>
    </message>
    <message>
        <source>JSON</source>
        <translation>JSON</translation>
    </message>
    <message>
        <source>CSV</source>
        <translation>CSV</translation>
    </message>
    <message>
        <source>Exactly the answer of GET /pull: merged topic counts, unique facts, contributing agents.</source>
        <translation>Exactement la réponse de GET /pull : comptes fusionnés par sujet, faits uniques, agents contributeurs.</translation>
    </message>
    <message>
        <source>One table: kind (topic or fact), name, count (merged count of a topic, number of agents holding a fact).</source>
        <translation>Une seule table : type (sujet ou fait), nom, nombre (total fusionné d’un sujet, nombre d’agents qui détiennent un fait).</translation>
    </message>
    <message>
        <source>Per agent: id, first and last seen (UTC), pushes, topics and facts of its current summary.</source>
        <translation>Par agent : identifiant, première et dernière apparition (UTC), envois, sujets et faits de son résumé actuel.</translation>
    </message>
    <message>
        <source>JSON lines: one push per line, oldest first, with its topic counts, facts and metadata.</source>
        <translation>JSON Lines : un envoi par ligne, du plus ancien au plus récent, avec ses comptes par sujet, ses faits et ses métadonnées.</translation>
    </message>
    <message>
        <source>One row per push, oldest first: agent, timestamps, source and the numbers of its topics and facts.</source>
        <translation>Une ligne par envoi, du plus ancien au plus récent : agent, horodatages, source et nombres de sujets et de faits.</translation>
    </message>
    <message>
        <source>Text starting with = + - or @ gets a leading apostrophe, so spreadsheets do not run it as a formula.</source>
        <translation>Un texte commençant par = + - ou @ est précédé d’une apostrophe, pour que les tableurs ne l’exécutent pas comme une formule.</translation>
    </message>
    <message>
        <source>CSV files (*.csv)</source>
        <translation>Fichiers CSV (*.csv)</translation>
    </message>
    <message>
        <source>JSON lines (*.jsonl *.json)</source>
        <translation>JSON Lines (*.jsonl *.json)</translation>
    </message>
    <message>
        <source>JSON files (*.json)</source>
        <translation>Fichiers JSON (*.json)</translation>
    </message>
    <message>
        <source>All files (*)</source>
        <translation>Tous les fichiers (*)</translation>
    </message>
    <message>
        <source>Export to</source>
        <translation>Exporter vers</translation>
    </message>
    <message>
        <source>Choose a file to export to.</source>
        <translation>Choisissez un fichier de destination.</translation>
    </message>
    <message>
        <source>Exporting…</source>
        <translation>Exportation…</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>Annulation…</translation>
    </message>
    <message>
        <source>Exporting… %1 of %2</source>
        <translation>Exportation… %1 sur %2</translation>
    </message>
    <message>
        <source>Exported to %1. %2 · Bytes: %3</source>
        <translation>Exporté vers %1. %2 · Octets : %3</translation>
    </message>
    <message>
        <source>Export cancelled; no file was written.</source>
        <translation>Exportation annulée ; aucun fichier n’a été écrit.</translation>
    </message>
    <message>
        <source>Export failed: %1</source>
        <translation>Échec de l’exportation : %1</translation>
    </message>
    <message>
        <source>Topics and facts: %1</source>
        <translation>Sujets et faits : %1</translation>
    </message>
    <message>
        <source>Agents: %1</source>
        <translation>Agents : %1</translation>
    </message>
    <message>
        <source>Pushes: %1</source>
        <translation>Envois : %1</translation>
    </message>
</context>
<context>
    <name>agmem::FactsModel</name>
    <message>
        <source>Fact</source>
        <translation>Fait</translation>
    </message>
    <message>
        <source>Agents holding it</source>
        <translation>Agents qui le détiennent</translation>
    </message>
</context>
<context>
    <name>agmem::KeysPage</name>
    <message>
        <source>The key is on the clipboard.</source>
        <translation>La clé est dans le presse-papiers.</translation>
    </message>
    <message>
        <source>Cannot read the keys: %1</source>
        <translation>Impossible de lire les clés : %1</translation>
    </message>
    <message>
        <source>never</source>
        <translation>jamais</translation>
    </message>
    <message>
        <source>active</source>
        <translation>active</translation>
    </message>
    <message>
        <source>revoked %1</source>
        <translation>révoquée le %1</translation>
    </message>
    <message>
        <source>Cannot create the key: %1</source>
        <translation>Impossible de créer la clé : %1</translation>
    </message>
    <message>
        <source>Key &quot;%1&quot; created.</source>
        <translation>Clé « %1 » créée.</translation>
    </message>
    <message>
        <source>Give the key a name, so you know later who uses it.</source>
        <translation>Donnez un nom à la clé pour savoir plus tard qui l’utilise.</translation>
    </message>
    <message>
        <source>Choose at least one scope.</source>
        <translation>Choisissez au moins un droit.</translation>
    </message>
    <message>
        <source>Cannot revoke the key: %1</source>
        <translation>Impossible de révoquer la clé : %1</translation>
    </message>
    <message>
        <source>Key &quot;%1&quot; revoked.</source>
        <translation>Clé « %1 » révoquée.</translation>
    </message>
    <message>
        <source>Revoke key</source>
        <translation>Révoquer la clé</translation>
    </message>
    <message>
        <source>Revoke the key &quot;%1&quot; (%2)? Clients using it are refused within a few seconds. This cannot be undone.</source>
        <translation>Révoquer la clé « %1 » (%2) ? Les clients qui l’utilisent sont refusés en quelques secondes. Cette action est irréversible.</translation>
    </message>
    <message>
        <source>Revoke</source>
        <translation>Révoquer</translation>
    </message>
</context>
<context>
    <name>agmem::MainWindow</name>
    <message>
        <source>API &amp;keys</source>
        <translation>&amp;Clés d’API</translation>
    </message>
    <message>
        <source>Snippet copied to the clipboard.</source>
        <translation>Extrait copié dans le presse-papiers.</translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation>&amp;Reprendre</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>&amp;Pause</translation>
    </message>
    <message>
        <source>Paused: new requests are held.</source>
        <translation>En pause : les nouvelles requêtes sont mises en attente.</translation>
    </message>
    <message>
        <source>&amp;Show</source>
        <translation>&amp;Afficher</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Annuler</translation>
    </message>
    <message>
        <source>&quot;%1&quot; is not an IP address (use 127.0.0.1 for this computer only, 0.0.0.0 for every network interface).</source>
        <translation>« %1 » n’est pas une adresse IP (127.0.0.1 pour cet ordinateur seulement, 0.0.0.0 pour toutes les interfaces réseau).</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>Arrêté</translation>
    </message>
    <message>
        <source>Error</source>
        <translation>Erreur</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>Démarrage…</translation>
    </message>
    <message>
        <source>Listening on</source>
        <translation>À l’écoute sur</translation>
    </message>
    <message>
        <source>Stopping…</source>
        <translation>Arrêt…</translation>
    </message>
    <message>
        <source>Could not start: %1</source>
        <translation>Démarrage impossible : %1</translation>
    </message>
    <message>
        <source>Listening on %1</source>
        <translation>À l’écoute sur %1</translation>
    </message>
    <message>
        <source>agmem Coordinator: %1</source>
        <translation>Coordinateur agmem : %1</translation>
    </message>
    <message>
        <source>Includes the team key created in this session.</source>
        <translation>Contient la clé d’équipe créée pendant cette session.</translation>
    </message>
    <message>
        <source>Replace YOUR_KEY with a key that has the push and pull scopes.</source>
        <translation>Remplacez YOUR_KEY par une clé ayant les droits push et pull.</translation>
    </message>
    <message>
        <source>The server is not running.</source>
        <translation>Le serveur n’est pas démarré.</translation>
    </message>
    <message>
        <source>Share with the team</source>
        <translation>Partager avec l’équipe</translation>
    </message>
    <message>
        <source>Listen on every network interface? Agents on other machines can then reach the coordinator; so can anyone else on the network unless an API key is required.</source>
        <translation>Écouter sur toutes les interfaces réseau ? Les agents d’autres machines pourront joindre le coordinateur, tout comme n’importe qui sur le réseau tant qu’aucune clé d’API n’est exigée.</translation>
    </message>
    <message>
        <source>Share</source>
        <translation>Partager</translation>
    </message>
    <message>
        <source>Create a key</source>
        <translation>Créer une clé</translation>
    </message>
    <message>
        <source>No API key with the push and pull scopes exists yet. Create one for the team now? The server then refuses requests without a key.</source>
        <translation>Aucune clé d’API avec les droits push et pull n’existe encore. En créer une pour l’équipe maintenant ? Le serveur refusera alors les requêtes sans clé.</translation>
    </message>
    <message>
        <source>Create key</source>
        <translation>Créer la clé</translation>
    </message>
    <message>
        <source>team</source>
        <translation>équipe</translation>
    </message>
    <message>
        <source>Created the key &quot;team&quot; (push, pull); it is in the snippet below.</source>
        <translation>Clé « équipe » (push, pull) créée ; elle figure dans l’extrait ci-dessous.</translation>
    </message>
    <message>
        <source>Select an agent to see its current summary.</source>
        <translation>Sélectionnez un agent pour voir son résumé actuel.</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;No current summary.</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Aucun résumé actuel.</translation>
    </message>
    <message>
        <source>Select a topic to see which agents report it.</source>
        <translation>Sélectionnez un sujet pour voir quels agents le signalent.</translation>
    </message>
    <message>
        <source>About agmem Coordinator</source>
        <translation>À propos du coordinateur agmem</translation>
    </message>
    <message>
        <source>&lt;h3&gt;agmem Coordinator %1&lt;/h3&gt;&lt;p&gt;Coordinator for agmem agent-memory federation: agents push summaries of their memory and pull the merged view of every agent.&lt;/p&gt;&lt;p&gt;Database: %2&lt;br&gt;Qt %3&lt;/p&gt;</source>
        <translation>&lt;h3&gt;Coordinateur agmem %1&lt;/h3&gt;&lt;p&gt;Coordinateur de la fédération de mémoires d’agents agmem : les agents envoient des résumés de leur mémoire et récupèrent la vue fusionnée de tous les agents.&lt;/p&gt;&lt;p&gt;Base de données : %2&lt;br&gt;Qt %3&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Paused · new requests held: %1</source>
        <translation>En pause · nouvelles requêtes en attente : %1</translation>
    </message>
    <message>
        <source>… and %1 more</source>
        <translation>… et %1 de plus</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt; · agents reporting it: %2</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; · agents qui le signalent : %2</translation>
    </message>
    <message>
        <source>Unique facts: %1</source>
        <translation>Faits uniques : %1</translation>
    </message>
    <message>
        <source>Matching: %1 of %2 facts</source>
        <translation>Faits correspondants : %1 sur %2</translation>
    </message>
    <message>
        <source>Agents: %1 · Topics: %2 · Unique facts: %3 · Pushes in total: %4</source>
        <translation>Agents : %1 · Sujets : %2 · Faits uniques : %3 · Envois au total : %4</translation>
    </message>
    <message>
        <source>The new database location is used when the app restarts.</source>
        <translation>Le nouvel emplacement de la base de données sera utilisé au redémarrage de l’application.</translation>
    </message>
    <message>
        <source>Restart the server?</source>
        <translation>Redémarrer le serveur ?</translation>
    </message>
    <message>
        <source>The changed settings take effect when the server restarts. Restart it now? Open connections are closed; agents reach it again at their next push.</source>
        <translation>Les paramètres modifiés prennent effet au redémarrage du serveur. Le redémarrer maintenant ? Les connexions ouvertes seront fermées ; les agents le rejoindront à leur prochain envoi.</translation>
    </message>
    <message>
        <source>&amp;Restart</source>
        <translation>&amp;Redémarrer</translation>
    </message>
    <message>
        <source>The new settings apply when the server next starts.</source>
        <translation>Les nouveaux paramètres s’appliqueront au prochain démarrage du serveur.</translation>
    </message>
    <message>
        <source>Totals</source>
        <translation>Totaux</translation>
    </message>
    <message numerus="yes">
        <source>no answer for %n second(s)</source>
        <translation>
            <numerusform>aucune réponse depuis %n seconde</numerusform>
            <numerusform>aucune réponse depuis %n secondes</numerusform>
        </translation>
    </message>
    <message>
        <source>The database %1 cannot be reached since %2 (%3). The window shows what was read before and keeps trying.</source>
        <translation>La base de données %1 est injoignable depuis %2 (%3). La fenêtre affiche ce qui a été lu auparavant et réessaie.</translation>
    </message>
    <message>
        <source>Reading the database…</source>
        <translation>Lecture de la base de données…</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Reading the database…</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Lecture de la base de données…</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Current summary from %2 · %3 · %4</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Résumé actuel du %2 · %3 · %4</translation>
    </message>
    <message numerus="yes">
        <source>%n topic(s)</source>
        <translation>
            <numerusform>%n sujet</numerusform>
            <numerusform>%n sujets</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n fact(s)</source>
        <translation>
            <numerusform>%n fait</numerusform>
            <numerusform>%n faits</numerusform>
        </translation>
    </message>
    <message>
        <source>Reading the history…</source>
        <translation>Lecture de l’historique…</translation>
    </message>
    <message>
        <source>The history cannot be read: %1</source>
        <translation>Impossible de lire l’historique : %1</translation>
    </message>
</context>
<context>
    <name>agmem::PushRateChart</name>
    <message>
        <source>Pushes per minute, last hour: total %1, peak %2</source>
        <translation>Envois par minute, dernière heure : total %1, pic %2</translation>
    </message>
    <message>
        <source>This minute: %1. Scale: 0 to %2 pushes per minute; bars from 60 minutes ago to now.</source>
        <translation>Cette minute : %1. Échelle : de 0 à %2 envois par minute ; barres d’il y a 60 minutes à maintenant.</translation>
    </message>
    <message>
        <source>This minute: %1 · Last hour: %2</source>
        <translation>Cette minute : %1 · Dernière heure : %2</translation>
    </message>
    <message>
        <source>%1–%2
Not read: too many pushes in the history to read at start</source>
        <translation>%1–%2
Non lu : trop d’envois dans l’historique pour les lire au démarrage</translation>
    </message>
    <message>
        <source>This minute, %1–%2
Pushes so far: %3</source>
        <translation>Cette minute, %1–%2
Envois jusqu’ici : %3</translation>
    </message>
    <message>
        <source>%1–%2
Pushes: %3</source>
        <translation>%1–%2
Envois : %3</translation>
    </message>
    <message>
        <source>Pushes per minute</source>
        <translation>Envois par minute</translation>
    </message>
    <message>
        <source>No pushes in the last hour</source>
        <translation>Aucun envoi au cours de la dernière heure</translation>
    </message>
    <message>
        <source>−%1 min</source>
        <translation>−%1 min</translation>
    </message>
    <message>
        <source>now</source>
        <translation>maintenant</translation>
    </message>
</context>
<context>
    <name>agmem::SettingsDialog</name>
    <message>
        <source>Restore &amp;defaults</source>
        <translation>Restaurer les valeurs par &amp;défaut</translation>
    </message>
    <message>
        <source>TLS certificate</source>
        <translation>Certificat TLS</translation>
    </message>
    <message>
        <source>TLS private key</source>
        <translation>Clé privée TLS</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Paramètres</translation>
    </message>
    <message>
        <source>The settings could not be saved to %1.</source>
        <translation>Impossible d’enregistrer les paramètres dans %1.</translation>
    </message>
    <message>
        <source>Enter an address: 127.0.0.1 for this computer only, 0.0.0.0 for every network interface.</source>
        <translation>Saisissez une adresse : 127.0.0.1 pour cet ordinateur seulement, 0.0.0.0 pour toutes les interfaces réseau.</translation>
    </message>
    <message>
        <source>&quot;%1&quot; is not an IP address (use 127.0.0.1 for this computer only, 0.0.0.0 for every network interface).</source>
        <translation>« %1 » n’est pas une adresse IP (127.0.0.1 pour cet ordinateur seulement, 0.0.0.0 pour toutes les interfaces réseau).</translation>
    </message>
    <message>
        <source>Only this computer can connect.</source>
        <translation>Seul cet ordinateur peut se connecter.</translation>
    </message>
    <message>
        <source>Every network interface: other machines can reach the coordinator. Create an API key for them.</source>
        <translation>Toutes les interfaces réseau : d’autres machines peuvent joindre le coordinateur. Créez une clé d’API pour elles.</translation>
    </message>
    <message>
        <source>Only connections to %1 are accepted.</source>
        <translation>Seules les connexions vers %1 sont acceptées.</translation>
    </message>
    <message>
        <source>Not a database location: %1</source>
        <translation>Emplacement de base de données non valide : %1</translation>
    </message>
    <message>
        <source>Default: the SQLite file %1</source>
        <translation>Par défaut : le fichier SQLite %1</translation>
    </message>
    <message>
        <source>SQLite file %1</source>
        <translation>Fichier SQLite %1</translation>
    </message>
    <message>
        <source>In memory: everything is lost when the app quits.</source>
        <translation>En mémoire : tout est perdu à la fermeture de l’application.</translation>
    </message>
    <message>
        <source>PostgreSQL database &quot;%1&quot; on %2, port %3.</source>
        <translation>Base de données PostgreSQL « %1 » sur %2, port %3.</translation>
    </message>
    <message>
        <source>The password is saved as plain text in the settings file (~/.pgpass keeps it out).</source>
        <translation>Le mot de passe est enregistré en clair dans le fichier de paramètres (~/.pgpass évite de l’y mettre).</translation>
    </message>
    <message>
        <source>No TLS: the server speaks plain HTTP.</source>
        <translation>Sans TLS : le serveur communique en HTTP non chiffré.</translation>
    </message>
    <message>
        <source>Choose both a certificate and its private key, or neither.</source>
        <translation>Choisissez à la fois un certificat et sa clé privée, ou aucun des deux.</translation>
    </message>
    <message>
        <source>The file %1 does not exist.</source>
        <translation>Le fichier %1 n’existe pas.</translation>
    </message>
    <message>
        <source>TLS is not available on this system (%1).</source>
        <translation>TLS n’est pas disponible sur ce système (%1).</translation>
    </message>
    <message>
        <source>Cannot read %1: %2</source>
        <translation>Impossible de lire %1 : %2</translation>
    </message>
    <message>
        <source>%1 holds no PEM certificate.</source>
        <translation>%1 ne contient aucun certificat PEM.</translation>
    </message>
    <message>
        <source>%1 holds no unencrypted PEM private key.</source>
        <translation>%1 ne contient aucune clé privée PEM non chiffrée.</translation>
    </message>
    <message>
        <source>%1 does not belong to the certificate %2 (%3).</source>
        <translation>%1 n’appartient pas au certificat %2 (%3).</translation>
    </message>
    <message>
        <source>HTTPS with the certificate for %1, valid until %2.</source>
        <translation>HTTPS avec le certificat de %1, valable jusqu’au %2.</translation>
    </message>
    <message>
        <source>It has expired: clients will refuse it.</source>
        <translation>Il a expiré : les clients le refuseront.</translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation>%1 (%2)</translation>
    </message>
    <message>
        <source>For this run, %1 sets this; the value saved here is used at a launch without it.</source>
        <translation>Pour cette exécution, cette valeur est fixée par %1 ; celle enregistrée ici sert aux lancements qui ne la fixent pas.</translation>
    </message>
    <message>
        <source>Set by the command line or the environment for this run, so the saved value is not used now: %1. What you save here applies at a launch without them.</source>
        <translation>Fixés par la ligne de commande ou l’environnement pour cette exécution, ces réglages n’utilisent pas leur valeur enregistrée : %1. Ce que vous enregistrez ici s’applique aux lancements qui ne les fixent pas.</translation>
    </message>
    <message>
        <source>Database file</source>
        <translation>Fichier de base de données</translation>
    </message>
    <message>
        <source>SQLite databases (*.db *.sqlite *.sqlite3);;All files (*)</source>
        <translation>Bases de données SQLite (*.db *.sqlite *.sqlite3);;Tous les fichiers (*)</translation>
    </message>
    <message>
        <source>PEM files (*.pem *.crt *.cer *.key);;All files (*)</source>
        <translation>Fichiers PEM (*.pem *.crt *.cer *.key);;Tous les fichiers (*)</translation>
    </message>
</context>
<context>
    <name>agmem::TopicsModel</name>
    <message>
        <source>Topic</source>
        <translation>Sujet</translation>
    </message>
    <message>
        <source>Merged count</source>
        <translation>Total fusionné</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Agents</translation>
    </message>
</context>
</TS>
