"""The invented firms of the demo network and the real places, buyers and names they draw on.

The firms are invented (any likeness to a real company is accidental); cities, postcodes,
departments and public buyers are real. Phone numbers are in the ranges ARCEP keeps for fiction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    name: str
    postcode: str
    department: str


@dataclass(frozen=True)
class DemoFirm:
    name: str
    region: str  # INSEE code
    city: City
    specialties: tuple[str, ...]  # keys of CLUSTERS
    is_sme: bool = True


# Skill names of the catalogue grouped the way firms specialise; the first of each group are the most common.
CLUSTERS: dict[str, tuple[str, ...]] = {
    "data": ("PostgreSQL", "MariaDB", "PostGIS", "Redis", "MySQL", "Elasticsearch", "MongoDB", "OpenSearch"),
    "gis": ("QGIS", "PostGIS", "GeoServer", "PostgreSQL", "uMap"),
    "collab": (
        "Nextcloud",
        "LibreOffice",
        "Thunderbird",
        "Collabora Online",
        "Jitsi",
        "Roundcube",
        "SOGo",
        "XWiki",
        "Rocket.Chat",
        "BigBlueButton",
    ),
    "itsm": ("GLPI", "OCS Inventory", "FusionInventory", "Zammad", "WAPT Community", "Rudder"),
    "web": ("Drupal", "WordPress", "SPIP", "TYPO3", "Matomo", "Nginx"),
    "learning": ("Moodle", "BigBlueButton", "Chamilo", "PeerTube", "Open edX", "Esup-Pod"),
    "identity": ("Keycloak", "OpenLDAP", "LemonLDAP::NG", "FusionDirectory", "Samba"),
    "infra": ("Apache HTTP Server", "Nginx", "Ansible", "HAProxy", "Proxmox VE", "Postfix", "Bareos", "Samba"),
    "cloud": ("Kubernetes", "Ansible", "Terraform", "OpenTofu", "Ceph", "OpenStack", "Rancher", "HAProxy"),
    "monitoring": ("Centreon", "Grafana", "Prometheus", "Zabbix", "Nagios", "Kibana", "Logstash"),
    "devops": ("GitLab Community Edition", "Jenkins", "SonarQube", "Redmine", "Tuleap", "Git"),
    "erp": ("Odoo", "Dolibarr", "PostgreSQL"),
    "java": ("Apache Tomcat", "Spring Boot", "Apache Maven", "Apache Solr", "Keycloak"),
}
# Languages, platforms and frameworks that go with each specialty.
STACKS: dict[str, tuple[str, ...]] = {
    "data": ("Python", "Linux", "Debian", "C"),
    "gis": ("Python", "Java", "JavaScript", "C++"),
    "collab": ("PHP", "JavaScript", "Linux", "Docker"),
    "itsm": ("PHP", "Perl", "Debian", "JavaScript"),
    "web": ("PHP", "JavaScript", "Symfony", "Vue.js", "React"),
    "learning": ("PHP", "JavaScript", "Python", "Ubuntu"),
    "identity": ("Java", "Perl", "Linux", "Red Hat Enterprise Linux"),
    "infra": ("Linux", "Debian", "Red Hat Enterprise Linux", "Rocky Linux", "Python"),
    "cloud": ("Go (langage)", "Docker", "Linux", "Python", "Ubuntu"),
    "monitoring": ("Go (langage)", "Python", "Linux", "Perl"),
    "devops": ("Ruby", "Docker", "Java", "TypeScript", "Node.js"),
    "erp": ("Python", "PHP", "JavaScript", "Ubuntu"),
    "java": ("Java", "OpenJDK", "TypeScript", "Red Hat Enterprise Linux"),
}
# Software a French firm plausibly publishes (its editor); community projects have none.
EDITABLE = frozenset(
    {
        "GLPI",
        "OCS Inventory",
        "Centreon",
        "Rudder",
        "XWiki",
        "Tuleap",
        "LemonLDAP::NG",
        "FusionDirectory",
        "WAPT Community",
        "Dolibarr",
        "SPIP",
    }
)

# The two firms the demo accounts belong to: both strong on PostgreSQL and Nextcloud, so they compete.
FIXED_SKILLS: dict[str, dict[str, int]] = {
    "Libre Expertise SARL": {
        "PostgreSQL": 5,
        "PostGIS": 4,
        "Nextcloud": 4,
        "MariaDB": 3,
        "QGIS": 2,
        "Ansible": 2,
        "Python": 3,
        "Debian": 3,
        "Linux": 3,
    },
    "Coopérative Code Commun": {
        "Nextcloud": 5,
        "PostgreSQL": 4,
        "LibreOffice": 3,
        "Collabora Online": 4,
        "Keycloak": 2,
        "PHP": 3,
        "JavaScript": 3,
        "Docker": 3,
        "Linux": 2,
    },
}

C = City
FIRMS: tuple[DemoFirm, ...] = (
    # Occitanie
    DemoFirm("Libre Expertise SARL", "76", C("Toulouse", "31000", "31"), ("data", "gis", "collab")),
    DemoFirm("Coopérative Code Commun", "76", C("Montpellier", "34000", "34"), ("collab", "identity", "web")),
    DemoFirm("Canal du Midi Open Source", "76", C("Toulouse", "31400", "31"), ("infra", "monitoring")),
    DemoFirm("Garrigue Logiciels Libres", "76", C("Nîmes", "30000", "30"), ("web", "learning")),
    DemoFirm("Catalan Code Ouvert SARL", "76", C("Perpignan", "66000", "66"), ("itsm",)),
    DemoFirm("Albigeois Systèmes Libres", "76", C("Albi", "81000", "81"), ("infra", "identity")),
    # Île-de-France
    DemoFirm("Faubourg Logiciel Libre SAS", "11", C("Paris", "75011", "75"), ("data", "cloud"), is_sme=False),
    DemoFirm("Les Ateliers du Code Ouvert", "11", C("Montreuil", "93100", "93"), ("web", "collab")),
    DemoFirm("Quai des Sources SARL", "11", C("Ivry-sur-Seine", "94200", "94"), ("devops", "java")),
    DemoFirm("Canal Numérique Libre", "11", C("Paris", "75010", "75"), ("collab", "learning")),
    DemoFirm("Bastion Open Source SAS", "11", C("Boulogne-Billancourt", "92100", "92"), ("identity", "cloud")),
    DemoFirm("Pavé Numérique SCOP", "11", C("Saint-Denis", "93200", "93"), ("web",)),
    DemoFirm("Cité des Paquets SARL", "11", C("Massy", "91300", "91"), ("infra", "devops")),
    DemoFirm("Méridien Libre Conseil", "11", C("Versailles", "78000", "78"), ("itsm", "monitoring")),
    DemoFirm("Ourcq Systèmes Ouverts", "11", C("Paris", "75019", "75"), ("cloud", "monitoring"), is_sme=False),
    DemoFirm("Sentier Libre Ingénierie", "11", C("Nanterre", "92000", "92"), ("java", "data")),
    # Centre-Val de Loire
    DemoFirm("Loire Code Ouvert SARL", "24", C("Orléans", "45000", "45"), ("itsm", "infra")),
    DemoFirm("Touraine Logiciels Libres SCOP", "24", C("Tours", "37000", "37"), ("collab",)),
    DemoFirm("Berry Données Libres", "24", C("Bourges", "18000", "18"), ("data", "gis")),
    # Bourgogne-Franche-Comté
    DemoFirm("Comtois Libre Informatique", "27", C("Besançon", "25000", "25"), ("web", "itsm")),
    DemoFirm("Côte d'Or Numérique Ouvert", "27", C("Dijon", "21000", "21"), ("learning", "collab")),
    DemoFirm("Citadelle Systèmes Libres", "27", C("Belfort", "90000", "90"), ("infra", "monitoring")),
    # Normandie
    DemoFirm("Falaise Libre Informatique", "28", C("Caen", "14000", "14"), ("gis", "data")),
    DemoFirm("Estuaire Open Source SARL", "28", C("Le Havre", "76600", "76"), ("infra",)),
    DemoFirm("Colombage Numérique SCOP", "28", C("Rouen", "76000", "76"), ("web", "collab")),
    DemoFirm("Cotentin Code Libre", "28", C("Cherbourg-en-Cotentin", "50100", "50"), ("itsm",)),
    # Hauts-de-France
    DemoFirm("Beffroi Logiciel Libre SAS", "32", C("Lille", "59000", "59"), ("java", "devops"), is_sme=False),
    DemoFirm("Coopérative du Terril Numérique", "32", C("Arras", "62000", "62"), ("collab", "itsm")),
    DemoFirm("Somme Sources Ouvertes", "32", C("Amiens", "80000", "80"), ("learning",)),
    DemoFirm("Filature Libre SARL", "32", C("Roubaix", "59100", "59"), ("web", "erp")),
    DemoFirm("Clairière Libre Ingénierie", "32", C("Compiègne", "60200", "60"), ("infra", "identity")),
    # Grand Est
    DemoFirm("Cigogne Open Source SAS", "44", C("Strasbourg", "67000", "67"), ("cloud", "devops")),
    DemoFirm("Stanislas Systèmes Libres", "44", C("Nancy", "54000", "54"), ("data", "java")),
    DemoFirm("Mirabelle Code Ouvert", "44", C("Metz", "57000", "57"), ("collab", "identity")),
    DemoFirm("Champagne Libre Informatique", "44", C("Reims", "51100", "51"), ("itsm", "monitoring")),
    DemoFirm("Rhin Supérieur Logiciels Libres", "44", C("Mulhouse", "68100", "68"), ("erp", "web")),
    # Pays de la Loire
    DemoFirm("Erdre Logiciels Libres SCOP", "52", C("Nantes", "44000", "44"), ("web", "learning")),
    DemoFirm("Ardoise Numérique Libre", "52", C("Angers", "49000", "49"), ("collab", "itsm")),
    DemoFirm("Sarthe Sources Ouvertes", "52", C("Le Mans", "72000", "72"), ("infra", "data")),
    DemoFirm("Mayenne Systèmes Ouverts", "52", C("Laval", "53000", "53"), ("devops",)),
    DemoFirm("Bocage Vendéen Informatique Libre", "52", C("La Roche-sur-Yon", "85000", "85"), ("erp",)),
    DemoFirm("Chantiers Libres de l'Estuaire", "52", C("Saint-Nazaire", "44600", "44"), ("monitoring", "cloud")),
    # Bretagne
    DemoFirm("Armor Logiciels Libres SARL", "53", C("Saint-Brieuc", "22000", "22"), ("collab", "web")),
    DemoFirm("Penn ar Code SCOP", "53", C("Brest", "29200", "29"), ("data", "gis")),
    DemoFirm("Vilaine Open Source", "53", C("Rennes", "35000", "35"), ("identity", "java"), is_sme=False),
    DemoFirm("Trégor Systèmes Libres", "53", C("Lannion", "22300", "22"), ("infra", "cloud")),
    DemoFirm("Rade de Lorient Numérique Libre", "53", C("Lorient", "56100", "56"), ("learning", "collab")),
    DemoFirm("Golfe du Morbihan Informatique Libre", "53", C("Vannes", "56000", "56"), ("itsm", "web")),
    # Nouvelle-Aquitaine
    DemoFirm("Garonne Logiciels Libres SAS", "75", C("Bordeaux", "33000", "33"), ("data", "devops")),
    DemoFirm("Pictave Open Source", "75", C("Poitiers", "86000", "86"), ("learning", "web")),
    DemoFirm("Porcelaine Numérique Libre", "75", C("Limoges", "87000", "87"), ("collab",)),
    DemoFirm("Rochelais Code Ouvert", "75", C("La Rochelle", "17000", "17"), ("gis", "web")),
    DemoFirm("Béarn Systèmes Libres", "75", C("Pau", "64000", "64"), ("infra", "itsm")),
    DemoFirm("Adour Informatique Libre", "75", C("Bayonne", "64100", "64"), ("identity", "collab")),
    # Auvergne-Rhône-Alpes
    DemoFirm("Presqu'île Logiciels Libres", "84", C("Lyon", "69002", "69"), ("data", "web")),
    DemoFirm("Dauphiné Open Source SAS", "84", C("Grenoble", "38000", "38"), ("cloud", "infra")),
    DemoFirm("Volcans Numériques Libres", "84", C("Clermont-Ferrand", "63000", "63"), ("learning", "itsm")),
    DemoFirm("Forez Code Ouvert", "84", C("Saint-Étienne", "42000", "42"), ("erp", "data")),
    DemoFirm("Lac d'Annecy Informatique Libre", "84", C("Annecy", "74000", "74"), ("collab", "identity")),
    DemoFirm("Canuts du Logiciel Libre SCOP", "84", C("Villeurbanne", "69100", "69"), ("web", "devops")),
    DemoFirm("Chartreuse Systèmes Ouverts", "84", C("Grenoble", "38100", "38"), ("monitoring", "java")),
    # Provence-Alpes-Côte d'Azur
    DemoFirm("Calanques Open Source SARL", "93", C("Marseille", "13002", "13"), ("infra", "collab")),
    DemoFirm("Baie des Anges Logiciels Libres", "93", C("Nice", "06000", "06"), ("web", "data")),
    DemoFirm("Sainte-Victoire Numérique Libre", "93", C("Aix-en-Provence", "13100", "13"), ("learning",)),
    DemoFirm("Rade de Toulon Systèmes Libres", "93", C("Toulon", "83000", "83"), ("identity", "infra")),
    DemoFirm("Remparts d'Avignon Informatique Libre", "93", C("Avignon", "84000", "84"), ("itsm", "erp")),
    # Corse
    DemoFirm("Maquis Numérique Libre", "94", C("Ajaccio", "20000", "2A"), ("web", "infra")),
    DemoFirm("Cap Corse Open Source", "94", C("Bastia", "20200", "2B"), ("collab",)),
    # Guadeloupe
    DemoFirm("Karukera Logiciels Libres", "01", C("Pointe-à-Pitre", "97110", "971"), ("infra", "web")),
    DemoFirm("Soufrière Systèmes Ouverts", "01", C("Baie-Mahault", "97122", "971"), ("collab", "itsm")),
    # La Réunion
    DemoFirm("Piton Logiciels Libres", "04", C("Saint-Denis", "97400", "974"), ("web", "learning")),
    DemoFirm("Lagon Numérique Ouvert", "04", C("Saint-Pierre", "97410", "974"), ("infra", "collab")),
)

DEPARTMENTS_BY_REGION: dict[str, tuple[str, ...]] = {
    "11": ("75", "77", "78", "91", "92", "93", "94", "95"),
    "24": ("18", "28", "36", "37", "41", "45"),
    "27": ("21", "25", "39", "58", "70", "71", "89", "90"),
    "28": ("14", "27", "50", "61", "76"),
    "32": ("02", "59", "60", "62", "80"),
    "44": ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"),
    "52": ("44", "49", "53", "72", "85"),
    "53": ("22", "29", "35", "56"),
    "75": ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"),
    "76": ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),
    "84": ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"),
    "93": ("04", "05", "06", "13", "83", "84"),
    "94": ("2A", "2B"),
    "01": ("971",),
    "04": ("974",),
}
# ARCEP's numbers for fiction, by the region's dialling zone: 01 99 00, 02 61 91, 03 53 01, 04 65 71, 05 36 49.
PHONE_PREFIX: dict[str, str] = {
    "11": "01 99 00",
    "24": "02 61 91",
    "28": "02 61 91",
    "52": "02 61 91",
    "53": "02 61 91",
    "27": "03 53 01",
    "32": "03 53 01",
    "44": "03 53 01",
    "84": "04 65 71",
    "93": "04 65 71",
    "94": "04 65 71",
    "75": "05 36 49",
    "76": "05 36 49",
    "01": "06 39 98",
    "04": "06 39 98",
}
STREETS = (
    "rue de la République",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "boulevard Gambetta",
    "rue Pasteur",
    "rue du Général de Gaulle",
    "place de la Mairie",
    "rue de la Gare",
    "avenue de la Libération",
    "rue Émile Zola",
    "rue des Écoles",
    "quai des Chartrons",
    "rue Nationale",
    "allée des Tilleuls",
)
FIRST_NAMES = (
    "Camille",
    "Nicolas",
    "Sophie",
    "Julien",
    "Élodie",
    "Thomas",
    "Claire",
    "Mathieu",
    "Aurélie",
    "Yann",
    "Nadia",
    "Karim",
    "Léa",
    "Hugo",
    "Maëlle",
    "Antoine",
    "Inès",
    "Baptiste",
    "Sandrine",
    "Olivier",
)
LAST_NAMES = (
    "Martin",
    "Bernard",
    "Lefèvre",
    "Moreau",
    "Garnier",
    "Roux",
    "Fournier",
    "Girard",
    "Bonnet",
    "Mercier",
    "Le Goff",
    "Rousseau",
    "Benali",
    "Castel",
    "Marchand",
    "Nguyen",
    "Lambert",
    "Faure",
    "Perrin",
    "Lopez",
)
CONTACT_ROLES = ("Gérance", "Direction technique", "Relations commerciales", "Responsable des offres")
NATIONAL_BUYERS = (
    "Direction interministérielle du numérique (DINUM)",
    "Ministère de l'Intérieur",
    "Ministère de l'Éducation nationale",
    "Institut national de l'information géographique et forestière (IGN)",
    "Centre national de la recherche scientifique (CNRS)",
    "Caisse nationale d'assurance vieillesse",
    "Météo-France",
)
REGIONAL_BUYERS: dict[str, tuple[str, ...]] = {
    "11": ("Région Île-de-France", "Ville de Paris", "Académie de Versailles", "Département de la Seine-Saint-Denis"),
    "24": ("Région Centre-Val de Loire", "Orléans Métropole", "Université de Tours"),
    "27": ("Région Bourgogne-Franche-Comté", "Dijon Métropole", "Université de Franche-Comté"),
    "28": ("Région Normandie", "Métropole Rouen Normandie", "Ville de Caen"),
    "32": ("Région Hauts-de-France", "Métropole européenne de Lille", "Université de Lille", "Amiens Métropole"),
    "44": ("Région Grand Est", "Eurométropole de Strasbourg", "Université de Lorraine", "Metz Métropole"),
    "52": ("Région Pays de la Loire", "Nantes Métropole", "CHU de Nantes", "Angers Loire Métropole"),
    "53": ("Région Bretagne", "Rennes Métropole", "Brest Métropole", "Université de Rennes"),
    "75": ("Région Nouvelle-Aquitaine", "Bordeaux Métropole", "Département de la Gironde", "Université de Poitiers"),
    "76": ("Région Occitanie", "Toulouse Métropole", "Montpellier Méditerranée Métropole", "Université de Montpellier"),
    "84": ("Région Auvergne-Rhône-Alpes", "Métropole de Lyon", "Ville de Grenoble", "Université Grenoble Alpes"),
    "93": ("Région Sud", "Métropole Nice Côte d'Azur", "Aix-Marseille Université", "Ville de Marseille"),
    "94": ("Collectivité de Corse", "Communauté d'agglomération du pays ajaccien"),
    "01": ("Région Guadeloupe", "Université des Antilles"),
    "04": ("Région Réunion", "Département de La Réunion", "Université de La Réunion"),
}
REFERENCE_TITLES = (
    "Tierce maintenance applicative {skill}",
    "Support et maintien en condition opérationnelle {skill}",
    "Migration et montée de version {skill}",
    "Déploiement de {skill} pour les agents",
    "Assistance à l'exploitation de la plateforme {skill}",
    "Expertise et audit de l'infrastructure {skill}",
    "Formation des administrateurs {skill}",
)
