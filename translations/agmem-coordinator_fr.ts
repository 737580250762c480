<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="fr">
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
        <source>Cannot open the database: %1</source>
        <translation>Impossible d’ouvrir la base de données : %1</translation>
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
        <source>%1 unique facts</source>
        <translation>%1 faits uniques</translation>
    </message>
    <message>
        <source>%1 of %2 facts match</source>
        <translation>%1 faits sur %2 correspondent</translation>
    </message>
    <message>
        <source>%1 agents · %2 topics · %3 unique facts · %4 pushes in total</source>
        <translation>%1 agents · %2 sujets · %3 faits uniques · %4 envois au total</translation>
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
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Current summary from %2 · topics: %3 · facts: %4</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Résumé actuel du %2 · sujets : %3 · faits : %4</translation>
    </message>
    <message>
        <source>… and %1 more</source>
        <translation>… et %1 de plus</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt; · agents reporting it: %2</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; · agents qui le signalent : %2</translation>
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
