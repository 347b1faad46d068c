package r53sim

import (
	"encoding/xml"
	"time"
)

// xmlns is the namespace Route 53 puts on every response document.
const xmlns = "https://route53.amazonaws.com/doc/2013-04-01/"

// timeFormat is how Route 53 writes SubmittedAt: ISO 8601, UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

// Request documents. encoding/xml matches elements by local name whatever the
// namespace, which is what we want: the SDK sends the 2013-04-01 namespace.

type createHostedZoneRequest struct {
	XMLName          xml.Name `xml:"CreateHostedZoneRequest"`
	Name             string   `xml:"Name"`
	CallerReference  string   `xml:"CallerReference"`
	VPC              *xmlVPC  `xml:"VPC"`
	HostedZoneConfig *struct {
		Comment     string `xml:"Comment"`
		PrivateZone bool   `xml:"PrivateZone"`
	} `xml:"HostedZoneConfig"`
	DelegationSetID string `xml:"DelegationSetId"`
}

type changeResourceRecordSetsRequest struct {
	XMLName     xml.Name `xml:"ChangeResourceRecordSetsRequest"`
	ChangeBatch struct {
		Comment string      `xml:"Comment"`
		Changes []xmlChange `xml:"Changes>Change"`
	} `xml:"ChangeBatch"`
}

type xmlChange struct {
	Action            string               `xml:"Action"`
	ResourceRecordSet xmlResourceRecordSet `xml:"ResourceRecordSet"`
}

// xmlResourceRecordSet is used both ways. Pointers mark optional elements so an
// absent TTL is told apart from TTL 0, as Route 53 does.
type xmlResourceRecordSet struct {
	Name             string      `xml:"Name"`
	Type             string      `xml:"Type"`
	SetIdentifier    string      `xml:"SetIdentifier,omitempty"`
	Weight           *int64      `xml:"Weight,omitempty"`
	Region           string      `xml:"Region,omitempty"`
	Failover         string      `xml:"Failover,omitempty"`
	MultiValueAnswer *bool       `xml:"MultiValueAnswer,omitempty"`
	TTL              *int64      `xml:"TTL,omitempty"`
	ResourceRecords  *xmlRecords `xml:"ResourceRecords,omitempty"`
	AliasTarget      *xmlAlias   `xml:"AliasTarget,omitempty"` // parsed only to refuse it: aliases are not simulated
	GeoLocation      *struct{}   `xml:"GeoLocation,omitempty"`
	HealthCheckID    string      `xml:"HealthCheckId,omitempty"`
	TrafficPolicy    string      `xml:"TrafficPolicyInstanceId,omitempty"`
	CidrRoutingConf  *struct{}   `xml:"CidrRoutingConfig,omitempty"`
	GeoProximity     *struct{}   `xml:"GeoProximityLocation,omitempty"`
}

type xmlAlias struct {
	HostedZoneID string `xml:"HostedZoneId"`
	DNSName      string `xml:"DNSName"`
}

type xmlRecords struct {
	Records []xmlRecord `xml:"ResourceRecord"`
}

type xmlRecord struct {
	Value string `xml:"Value"`
}

type xmlVPC struct {
	VPCRegion string `xml:"VPCRegion,omitempty"`
	VPCID     string `xml:"VPCId,omitempty"`
}

// Response documents.

type xmlHostedZone struct {
	ID              string `xml:"Id"`
	Name            string `xml:"Name"`
	CallerReference string `xml:"CallerReference"`
	Config          struct {
		Comment     string `xml:"Comment,omitempty"`
		PrivateZone bool   `xml:"PrivateZone"`
	} `xml:"Config"`
	ResourceRecordSetCount int `xml:"ResourceRecordSetCount"`
}

type xmlChangeInfo struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
	Comment     string `xml:"Comment,omitempty"`
}

type xmlDelegationSet struct {
	NameServers []string `xml:"NameServers>NameServer"`
}

type createHostedZoneResponse struct {
	XMLName       xml.Name          `xml:"CreateHostedZoneResponse"`
	Xmlns         string            `xml:"xmlns,attr"`
	HostedZone    xmlHostedZone     `xml:"HostedZone"`
	ChangeInfo    xmlChangeInfo     `xml:"ChangeInfo"`
	DelegationSet *xmlDelegationSet `xml:"DelegationSet,omitempty"`
	VPC           *xmlVPC           `xml:"VPC,omitempty"`
}

type getHostedZoneResponse struct {
	XMLName       xml.Name          `xml:"GetHostedZoneResponse"`
	Xmlns         string            `xml:"xmlns,attr"`
	HostedZone    xmlHostedZone     `xml:"HostedZone"`
	DelegationSet *xmlDelegationSet `xml:"DelegationSet,omitempty"`
	VPCs          []xmlVPC          `xml:"VPCs>VPC,omitempty"`
}

type listHostedZonesResponse struct {
	XMLName     xml.Name        `xml:"ListHostedZonesResponse"`
	Xmlns       string          `xml:"xmlns,attr"`
	HostedZones []xmlHostedZone `xml:"HostedZones>HostedZone"`
	Marker      string          `xml:"Marker,omitempty"`
	IsTruncated bool            `xml:"IsTruncated"`
	NextMarker  string          `xml:"NextMarker,omitempty"`
	MaxItems    int             `xml:"MaxItems"`
}

type listHostedZonesByNameResponse struct {
	XMLName          xml.Name        `xml:"ListHostedZonesByNameResponse"`
	Xmlns            string          `xml:"xmlns,attr"`
	HostedZones      []xmlHostedZone `xml:"HostedZones>HostedZone"`
	DNSName          string          `xml:"DNSName,omitempty"`
	HostedZoneID     string          `xml:"HostedZoneId,omitempty"`
	IsTruncated      bool            `xml:"IsTruncated"`
	NextDNSName      string          `xml:"NextDNSName,omitempty"`
	NextHostedZoneID string          `xml:"NextHostedZoneId,omitempty"`
	MaxItems         int             `xml:"MaxItems"`
}

type changeResourceRecordSetsResponse struct {
	XMLName    xml.Name      `xml:"ChangeResourceRecordSetsResponse"`
	Xmlns      string        `xml:"xmlns,attr"`
	ChangeInfo xmlChangeInfo `xml:"ChangeInfo"`
}

type getChangeResponse struct {
	XMLName    xml.Name      `xml:"GetChangeResponse"`
	Xmlns      string        `xml:"xmlns,attr"`
	ChangeInfo xmlChangeInfo `xml:"ChangeInfo"`
}

type listResourceRecordSetsResponse struct {
	XMLName              xml.Name               `xml:"ListResourceRecordSetsResponse"`
	Xmlns                string                 `xml:"xmlns,attr"`
	ResourceRecordSets   []xmlResourceRecordSet `xml:"ResourceRecordSets>ResourceRecordSet"`
	IsTruncated          bool                   `xml:"IsTruncated"`
	NextRecordName       string                 `xml:"NextRecordName,omitempty"`
	NextRecordType       string                 `xml:"NextRecordType,omitempty"`
	NextRecordIdentifier string                 `xml:"NextRecordIdentifier,omitempty"`
	MaxItems             int                    `xml:"MaxItems"`
}

// Error documents; see errors.go for when each is used.

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

type invalidChangeBatchResponse struct {
	XMLName   xml.Name `xml:"InvalidChangeBatch"`
	Xmlns     string   `xml:"xmlns,attr"`
	Messages  []string `xml:"Messages>Message"`
	RequestID string   `xml:"RequestId"`
}

// changeInfoXML renders a change as Route 53 does, with its status judged at now.
func changeInfoXML(c *change, now time.Time) xmlChangeInfo {
	return xmlChangeInfo{
		ID:          "/change/" + c.id,
		Status:      c.status(now),
		SubmittedAt: c.submitted.UTC().Format(timeFormat),
		Comment:     c.comment,
	}
}
