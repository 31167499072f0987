Feature: The app is in the background
  An agent does not keep the app on screen all shift. In the background, or with the phone
  locked, the phone closes the app's WebSocket. The app has subscribed to Web Push: what the
  agent must not miss (a call ringing, a logout nobody asked for) wakes the phone through the
  push service, and the app resumes its event stream when the agent opens it.

  Scenario: A call arrives by push and is shown when the app opens
    Given these agents are logged in through the app:
      | agent | mode         |
      | 1001  | CALL_BY_CALL |
    And agent 1001's app is subscribed to push
    And agent 1001 is READY
    And agent 1001's app is in the background
    When a customer calls 8000 with these call variables:
      | variable      | value    |
      | callVariable1 | ACC-4711 |
      | callVariable2 | Gold     |
    Then agent 1001's app gets a push of the incoming call with its caller, queue and call variables
    When agent 1001 opens the app
    Then agent 1001's app shows an incoming call
    And agent 1001's call carries callVariable1 ACC-4711 in the app and in Finesse
    And agent 1001 is RESERVED in the app and in Finesse

  Scenario: Finesse's forced logout arrives by push
    Given these agents are logged in through the app:
      | agent | mode         |
      | 1001  | CALL_BY_CALL |
    And agent 1001's app is subscribed to push
    And agent 1001's app is in the background
    When Finesse logs agent 1001 out after its presence was lost
    Then agent 1001's app gets a push that the session ended: forced_logout
    And agent 1001 is LOGOUT in Finesse
    And the connector holds 0 sessions

  Scenario: The push service is down, and the call is still shown when the app opens
    Given these agents are logged in through the app:
      | agent | mode         |
      | 1001  | CALL_BY_CALL |
    And agent 1001's app is subscribed to push
    And agent 1001 is READY
    And the push service is down
    And agent 1001's app is in the background
    When a customer calls 8000
    Then the push service refused the push to agent 1001's app
    When agent 1001 opens the app
    Then agent 1001's app shows an incoming call
    And agent 1001 is RESERVED in the app and in Finesse
