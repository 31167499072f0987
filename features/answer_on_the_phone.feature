Feature: Answer on the phone
  A mobile agent's phone is the handset in its hand. With CALL_BY_CALL every call rings it
  and the agent picks up. With NAILED_CONNECTION the phone is called once, at login, and
  stays connected: calls then arrive on that open line and the agent takes them in the app.

  @browser
  Scenario: CALL_BY_CALL: the phone rings and the agent picks up
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |
    And agent 1001 is READY
    When a customer calls 8000
    Then agent 1001's app shows an incoming call
    And agent 1001's phone rings
    And agent 1001's app offers ANSWER on the call
    When agent 1001 answers on the phone
    Then agent 1001's app shows the call ACTIVE
    And agent 1001's phone is connected
    And agent 1001 is TALKING in the app and in Finesse
    And agent 1001 is talking to the customer in the app and in Finesse

  Scenario: CALL_BY_CALL: answering in the app connects the ringing phone
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |
    And agent 1001 is READY
    When a customer calls 8000
    Then agent 1001's phone rings
    When agent 1001 answers in the app
    Then agent 1001's phone is connected
    And agent 1001 is TALKING in the app and in Finesse
    And agent 1001 is talking to the customer in the app and in Finesse

  Scenario: CALL_BY_CALL: a call rejected on the phone goes to the next agent
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |
      | 1002  | CALL_BY_CALL | +15551230002 |
    And these agents are READY, in this order:
      | agent |
      | 1001  |
      | 1002  |
    When a customer calls 8000
    Then agent 1001's phone rings
    When agent 1001 rejects the call on the phone
    Then agent 1001 is NOT_READY with reason code 32767 in the app and in Finesse
    And agent 1001 has no call in the app and in Finesse
    And agent 1002's app shows an incoming call
    When agent 1002 answers on the phone
    Then agent 1002 is talking to the customer in the app and in Finesse

  Scenario: NAILED_CONNECTION: the login calls the phone and completes once it is answered
    Given these agents are logged in through the app:
      | agent | mode              | dial number  |
      | 1002  | NAILED_CONNECTION | +15551230002 |
    Then agent 1002 is signed in as NAILED_CONNECTION in the app and in Finesse
    And agent 1002's app has call control
    And agent 1002 is NOT_READY in the app and in Finesse

  Scenario: NAILED_CONNECTION: a call arrives on the open line and is answered in the app
    Given these agents are logged in through the app:
      | agent | mode              | dial number  |
      | 1002  | NAILED_CONNECTION | +15551230002 |
    And agent 1002 is READY
    When a customer calls 8000 with callVariable1 ACC-42
    Then within 2 seconds agent 1002's app shows an incoming call with callVariable1 ACC-42
    When agent 1002 tries to answer on the phone
    Then it is refused with 404 Not Found
    When agent 1002 answers in the app
    Then agent 1002's app shows the call ACTIVE
    And agent 1002 is TALKING in the app and in Finesse
    And agent 1002 is talking to the customer in the app and in Finesse

  Scenario: NAILED_CONNECTION: rejecting the setup call fails the login
    When agent 1003 tries to log in as NAILED_CONNECTION and rejects the setup call
    Then it is refused with 409 login_incomplete
    And agent 1003 is LOGOUT in Finesse

  Scenario: NAILED_CONNECTION: hanging up the open line signs the agent out
    Given these agents are logged in through the app:
      | agent | mode              | dial number  |
      | 1002  | NAILED_CONNECTION | +15551230002 |
    When agent 1002 hangs up the nailed connection
    Then agent 1002 is LOGOUT in the app and in Finesse
